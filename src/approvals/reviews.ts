// Per-operation reviews: created when the policy says `review`, decided by N distinct approvers
// from the named groups (never the requester), consumed one use at a time by the exact same
// operation, expired when their time is up. Every state change is audited and notified.

import { WardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { principalOf } from '../core/principal.js';
import type { Decision, Operation } from '../core/types.js';
import { operationHash } from '../gateway/ports.js';
import type { Review, ReviewState } from '../store/index.js';
import { type Actor, audit, type DeskContext, KeyedMutex } from './context.js';
import { assertMayDecide, mayView, PENDING_TTL_MS, reviewSettings, withDefaultApprovers } from './eligibility.js';
import type { ReviewEvent } from './notify.js';

export const REVIEW_STATES: readonly ReviewState[] = ['pending', 'approved', 'denied', 'expired', 'executed'];
/** Rows read per sweep / listing; reviews leave `pending` and `approved` within their TTLs. */
const SCAN_LIMIT = 10_000;

export class ReviewDesk {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly ctx: DeskContext) {}

  /**
   * Stores a review for an operation the policy sent to review. The same operation sent again
   * while its review is pending gets that review back, so a retrying agent does not flood the
   * inbox.
   */
  async create(op: Operation, decision: Decision): Promise<Review> {
    const { config, store, clock } = this.ctx;
    const opHash = operationHash(op);
    const open = await store.listReviews({ state: 'pending', ...principalOf(op.identity), limit: SCAN_LIMIT });
    const now = clock.now();
    const same = open.find((r) => r.opHash === opHash && r.connection === op.connection.name && r.expiresAt > now);
    if (same) return same;

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
      rules: [...decision.rules],
      reasons: decision.reasons.map((r) => ({ ...r })),
      approversRequired: withDefaultApprovers(config, decision.review),
      approvals: [],
      usesLeft: reviewSettings(config, decision.rules).uses,
      createdAt: now,
      decidedAt: null,
      expiresAt: now + PENDING_TTL_MS,
    };
    await store.insertReview(review);
    await audit(
      this.ctx,
      {
        type: 'review.created',
        actor: review.requester.sub,
        session: op.session,
        connection: review.connection,
        data: {
          issuer: review.requester.issuer,
          review: review.id,
          op: op.id,
          kind: review.kind,
          text: auditText(review),
          rules: review.rules,
          approvers: review.approversRequired,
          uses: review.usesLeft,
          expiresAt: review.expiresAt,
        },
      },
      false,
    );
    this.notify('review.created', review);
    return review;
  }

  /** Adds one approval; the Nth distinct one approves the review until the rule's `approvalTtl`. */
  approve(id: string, approver: Actor, reason?: string): Promise<Review> {
    return this.mutex.run(id, async () => {
      const { clock, store } = this.ctx;
      const r = await this.currentVisible(approver, id);
      assertMayDecide(`review ${id}`, r, approver);
      const now = clock.now();
      const approvals = [...r.approvals, { ...principalOf(approver), at: now, ...(reason ? { reason } : {}) }];
      const done = approvals.length >= r.approversRequired.count;
      const ttl = reviewSettings(this.ctx.config, r.rules).approvalTtlMs;
      const updated = await store.updateReview(
        id,
        done ? { approvals, state: 'approved', decidedAt: now, expiresAt: now + ttl } : { approvals },
        { expectState: 'pending' },
      );
      if (!updated) throw await this.lostRace(id);
      // Waiters and webhooks learn of the decision even if the audit write then fails.
      if (done) this.changed('review.approved', updated);
      await audit(
        this.ctx,
        {
          type: done ? 'review.approved' : 'review.approval',
          actor: approver.sub,
          connection: r.connection,
          data: {
            issuer: approver.issuer,
            review: id,
            requester: r.requester.sub,
            requesterIssuer: r.requester.issuer,
            approvals: updated.approvals.length,
            required: r.approversRequired.count,
            ...(done ? { expiresAt: updated.expiresAt } : {}),
            ...(reason ? { reason } : {}),
          },
        },
        true,
      );
      return updated;
    });
  }

  /** One eligible approver's denial ends the review. */
  deny(id: string, approver: Actor, reason?: string): Promise<Review> {
    return this.mutex.run(id, async () => {
      const { clock, store } = this.ctx;
      const r = await this.currentVisible(approver, id);
      // Denying is deciding: the same eligibility, minus the "already approved" check (an
      // approver of an N-of-M review may still change their mind and deny it).
      assertMayDecide(`review ${id}`, { ...r, approvals: [] }, approver);
      const now = clock.now();
      const updated = await store.updateReview(id, { state: 'denied', decidedAt: now }, { expectState: 'pending' });
      if (!updated) throw await this.lostRace(id);
      this.changed('review.denied', updated);
      await audit(
        this.ctx,
        {
          type: 'review.denied',
          actor: approver.sub,
          connection: r.connection,
          data: {
            issuer: approver.issuer,
            review: id,
            requester: r.requester.sub,
            requesterIssuer: r.requester.issuer,
            ...(reason ? { reason } : {}),
          },
        },
        true,
      );
      return updated;
    });
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
      this.notify('review.executed', after);
      return r.id;
    }
    return null;
  }

  async get(id: string): Promise<Review> {
    const r = await this.ctx.store.getReview(id);
    if (!r) throw notFound(id);
    return r;
  }

  /** A review the viewer may see (their own, one they may approve, or any for admins). */
  async getVisible(viewer: Actor, id: string): Promise<Review> {
    const r = await this.ctx.store.getReview(id);
    if (!r || !mayView(this.ctx.config, viewer, r)) throw notFound(id);
    return r;
  }

  async list(viewer: Actor, state?: ReviewState, limit = 500): Promise<Review[]> {
    const rows = await this.ctx.store.listReviews({ ...(state ? { state } : {}), limit: SCAN_LIMIT });
    return rows.filter((r) => mayView(this.ctx.config, viewer, r)).slice(0, limit);
  }

  /** Pending and approved reviews past their `expiresAt` become `expired`. */
  async expireDue(): Promise<number> {
    const { store, clock } = this.ctx;
    const now = clock.now();
    let n = 0;
    for (const state of ['pending', 'approved'] as const) {
      for (const r of await store.listReviews({ state, limit: SCAN_LIMIT })) {
        if (r.expiresAt <= now && (await this.expire(r))) n++;
      }
    }
    return n;
  }

  /** current(), for a decision: a review the approver cannot see is not found (as GET answers), never 403 with its state. */
  private async currentVisible(viewer: Actor, id: string): Promise<Review> {
    const r = await this.current(id);
    if (!mayView(this.ctx.config, viewer, r)) throw notFound(id);
    return r;
  }

  /** The review, expired first when its time is up, so a late approver sees the truth. */
  private async current(id: string): Promise<Review> {
    const r = await this.get(id);
    if ((r.state === 'pending' || r.state === 'approved') && r.expiresAt <= this.ctx.clock.now()) {
      await this.expire(r);
      return this.get(id);
    }
    return r;
  }

  private async expire(r: Review): Promise<boolean> {
    const updated = await this.ctx.store.updateReview(r.id, { state: 'expired' }, { expectState: r.state });
    if (!updated) return false; // another instance (or a use) got there first
    await audit(
      this.ctx,
      {
        type: 'review.expired',
        connection: r.connection,
        data: { review: r.id, requester: r.requester.sub, requesterIssuer: r.requester.issuer, was: r.state },
      },
      false,
    );
    this.changed('review.expired', updated);
    return true;
  }

  private async lostRace(id: string): Promise<WardenError> {
    const now = await this.ctx.store.getReview(id);
    return new WardenError('WARDEN_REVIEW_FORBIDDEN', `review ${id} is already ${now?.state ?? 'gone'}`, {
      detail: { reason: 'not-pending', state: now?.state ?? 'unknown' },
    });
  }

  private changed(event: ReviewEvent, r: Review): void {
    this.ctx.decisions.emit(r.id, r.state);
    this.notify(event, r);
  }

  private notify(event: ReviewEvent, review: Review): void {
    this.ctx.notifier.emit({ event, review, at: this.ctx.clock.now() });
  }
}

function notFound(id: string): WardenError {
  return new WardenError('WARDEN_REVIEW_NOT_FOUND', `no review '${id}'`);
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
      return { argv: op.command.argv };
    case 'http':
      return { method: op.http.method, path: op.http.path, query: op.http.query };
    case 'k8s':
      return { ...op.k8s };
    case 'session':
      return { ...op.session_ };
  }
}
