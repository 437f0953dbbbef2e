// Per-operation reviews: created when the policy says `review`, decided through the approval
// workflow (N distinct approvers from the named groups, never the requester), consumed one use
// at a time by the exact same operation, expired when their time is up.

import { newId } from '../core/ids.js';
import { principalOf } from '../core/principal.js';
import type { Decision, Operation } from '../core/types.js';
import { operationHash } from '../gateway/ports.js';
import type { Review, ReviewPatch, ReviewState } from '../store/index.js';
import { audit, type DeskContext } from './context.js';
import { PENDING_TTL_MS, reviewSettings, withDefaultApprovers } from './eligibility.js';
import { type ImpactPreviewer, previewImpact } from './impact.js';
import type { ReviewEvent } from './notify.js';
import { ApprovalWorkflow, decisionEvents, SCAN_LIMIT, type WorkflowKind } from './workflow.js';

export const REVIEW_STATES: readonly ReviewState[] = ['pending', 'approved', 'denied', 'expired', 'executed'];

/** Reviews in the approval workflow: an approval allows the operation until the rule's `approvalTtl`. */
function reviewKind(ctx: DeskContext): WorkflowKind<Review, ReviewState, ReviewPatch, ReviewEvent> {
  const { store } = ctx;
  return {
    noun: 'review',
    idKey: 'review',
    events: { ...decisionEvents('review'), created: 'review.created' },
    store: {
      insert: (r) => store.insertReview(r),
      get: (id) => store.getReview(id),
      list: (q) => store.listReviews(q),
      transition: (id, decide) => store.transitionReview(id, decide),
    },
    requester: (r) => r.requester,
    grant: (r, now) => ({ expiresAt: now + reviewSettings(ctx.config, r.rules).approvalTtlMs }),
    // Held operations wake at once on a local decision.
    applied: (r) => ctx.decisions.emit(r.id, r.state),
    notify: (event, review) => ctx.notifier.emit({ event, review, at: ctx.clock.now() }),
  };
}

/** What only reviews do: create one for an operation, consume its uses. Deciding is `flow`'s. */
export class ReviewDesk {
  readonly flow: ApprovalWorkflow<Review, ReviewState, ReviewPatch, ReviewEvent>;

  constructor(
    private readonly ctx: DeskContext,
    private readonly impact?: ImpactPreviewer,
  ) {
    this.flow = new ApprovalWorkflow(ctx, reviewKind(ctx));
  }

  /**
   * Stores a review for an operation the policy sent to review. The same operation sent again
   * while its review is pending gets that review back, so a retrying agent does not flood the
   * inbox.
   */
  async create(op: Operation, decision: Decision): Promise<Review> {
    const { config, store, clock } = this.ctx;
    const opHash = operationHash(op);
    const open = await store.listReviews({ state: 'pending', ...principalOf(op.identity), limit: SCAN_LIMIT });
    let now = clock.now();
    const same = open.find((r) => r.opHash === opHash && r.connection === op.connection.name && r.expiresAt > now);
    if (same) return same;

    // Bounded, and never a reason not to store the review (unknown then).
    const impact = await previewImpact(this.impact, op, clock, { config });
    now = clock.now();
    const review: Review = {
      id: newId('r', now),
      state: 'pending',
      requester: { issuer: op.identity.issuer, sub: op.identity.sub, groups: [...op.identity.groups] },
      connection: op.connection.name,
      kind: op.kind,
      text: op.text,
      normalized: op.kind === 'sql' ? op.normalized : op.text,
      opHash,
      params: paramsOf(op),
      ...(impact ? { impact } : {}),
      rules: [...decision.rules],
      reasons: decision.reasons.map((r) => ({ ...r })),
      approversRequired: withDefaultApprovers(config, decision.review),
      approvals: [],
      usesLeft: reviewSettings(config, decision.rules).uses,
      createdAt: now,
      decidedAt: null,
      expiresAt: now + PENDING_TTL_MS,
    };
    const data = {
      issuer: review.requester.issuer,
      review: review.id,
      op: op.id,
      kind: review.kind,
      text: auditText(review),
      rules: review.rules,
      approvers: review.approversRequired,
      uses: review.usesLeft,
      expiresAt: review.expiresAt,
      ...(impact ? { impact: impact.summary } : {}),
    };
    return this.flow.create(review, { actor: review.requester.sub, session: op.session, data }, false);
  }

  /** Takes one use of an approved review covering exactly this operation; its id, or null. */
  async consume(op: Operation): Promise<string | null> {
    const { store, clock } = this.ctx;
    const opHash = operationHash(op);
    // Another session may take the last use between find and consume: look again, briefly.
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = clock.now();
      const r = await store.findApprovedReview({
        ...principalOf(op.identity),
        connection: op.connection.name,
        opHash,
        now,
      });
      if (!r) return null;
      if (!(await store.consumeReviewUse(r.id, now))) continue;
      const usesLeft = Math.max(0, r.usesLeft - 1);
      const after: Review = { ...r, usesLeft, state: usesLeft === 0 ? 'executed' : 'approved' };
      await audit(
        this.ctx,
        {
          type: 'review.executed',
          actor: op.identity.sub,
          session: op.session,
          connection: r.connection,
          data: { issuer: op.identity.issuer, review: r.id, op: op.id, usesLeft },
        },
        false,
      );
      if (usesLeft === 0) this.ctx.decisions.emit(r.id, 'executed');
      this.ctx.notifier.emit({ event: 'review.executed', review: after, at: clock.now() });
      return r.id;
    }
    return null;
  }
}

// Literals stay out of the audit log (the normalized statement); other kinds are clipped.
function auditText(r: Review): string {
  if (r.kind === 'sql') return r.normalized;
  return r.text.length > 2000 ? `${r.text.slice(0, 2000)}…` : r.text;
}

/** What the approver needs besides the text; never headers (they may carry credentials). */
function paramsOf(op: Operation): unknown {
  switch (op.kind) {
    case 'sql':
      return { fingerprint: op.sql.fingerprint, kinds: op.sql.kinds, tables: op.sql.tables };
    case 'command':
      return { argv: op.command.argv, programs: op.command.programs };
    case 'http':
      return { method: op.http.method, path: op.http.path, query: op.http.query };
    case 'k8s':
      return { ...op.k8s };
    case 'session':
      return { ...op.session_ };
    case 'file':
      return { ...op.file };
  }
}
