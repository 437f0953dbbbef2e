export type { AccessRequestRepository } from './access-requests.js';
export type { Store } from './open.js';
export { openStore, openStoreReadOnly, redactStoreUrl } from './open.js';
export { insertRecordingChunks, type RecordingChunk, readRecordingChunks } from './recording-chunks.js';
export type { ReviewRepository } from './reviews.js';
export type { RevocationRepository } from './revocations.js';
export type { AuditLogTable, Database } from './schema.js';
export type { SessionRepository } from './sessions.js';
export type {
  AccessRequest,
  AccessRequestPatch,
  AccessRequestState,
  Approval,
  ApproversRequired,
  NewSession,
  RecordingFormat,
  Review,
  ReviewImpact,
  ReviewPatch,
  ReviewState,
  Revocation,
  Session,
  StoreDialect,
} from './types.js';
