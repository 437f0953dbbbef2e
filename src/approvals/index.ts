// Approvals and just-in-time access: per-operation reviews, time-bound grants, notifications.

export { ACCESS_STATES } from './access.js';
export { Approvals, type ApprovalsDeps, approvalsOf } from './approvals.js';
export type { Actor } from './context.js';
export { DEFAULT_MAX_JIT_MS, PENDING_TTL_MS, type RefusalReason } from './eligibility.js';
export { IMPACT_DEADLINE_MS, type ImpactCounts, type ImpactPreviewer, impactOf, previewImpact } from './impact.js';
export {
  EVENT_HEADER,
  type NotificationEvent,
  Notifier,
  SIGNATURE_HEADER,
  signBody,
  slackText,
  type WebhookTarget,
} from './notify.js';
export { REVIEW_STATES } from './reviews.js';
