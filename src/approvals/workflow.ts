// The one approval workflow behind reviews and access requests: an item is created pending, the
// Nth distinct eligible approver approves it (one eligible denial ends it), its time runs out
// (expired), or an active grant is ended early (revoked). Every change is a compare-and-set in
// the store, so two gateway instances cannot both decide one item, and every change is audited
// and notified. A kind says what differs: its store, its names and what "approved" grants.

import { WardenError } from '../core/errors.js';
import { type Principal, principalOf } from '../core/principal.js';
import type { Decide, Transition } from '../store/decidable.js';
import type { Approval, ApproversRequired } from '../store/index.js';
import { type Actor, audit, type DeskContext, KeyedMutex } from './context.js';
import { assertMayDecide, type DecidableItem, mayView } from './eligibility.js';

/** What the workflow reads and writes of an item. */
export interface Decidable {
  id: string;
  state: string;
  connection: string;
  approvals: Approval[];
  approversRequired: ApproversRequired;
  expiresAt: number;
}

/** What the workflow writes: state changes only. */
export interface DecidablePatch {
  state?: string;
  approvals?: Approval[];
  decidedAt?: number | null;
  expiresAt?: number;
}

/** Audit event names; the ones that are also notifications are typed `E`. */
export interface WorkflowEvents<E extends string> {
  created: E;
  /** One approval of several needed (audited, not notified). */
  approval: string;
  approved: E;
  denied: E;
  expired: E;
  revoked?: E;
}

/** The decision events every kind names alike: `<prefix>.approval`, `.approved`, `.denied`, `.expired`. */
export function decisionEvents<K extends string>(prefix: K) {
  return {
    approval: `${prefix}.approval`,
    approved: `${prefix}.approved`,
    denied: `${prefix}.denied`,
    expired: `${prefix}.expired`,
  } as const;
}

export interface WorkflowKind<T extends Decidable, S extends string, P extends DecidablePatch, E extends string> {
  /** How messages name an item: `review`, `access request`. */
  noun: string;
  /** The audit data key carrying the item id. */
  idKey: 'review' | 'request';
  events: WorkflowEvents<E>;
  store: {
    insert(item: T): Promise<T>;
    get(id: string): Promise<T | undefined>;
    list(q: { state?: S; limit: number }): Promise<T[]>;
    transition(id: string, decide: Decide<T, P>): Promise<Transition<T> | undefined>;
  };
  requester(item: T): Principal;
  /** What the last approval grants besides the state: the fields it sets (the approval's end). */
  grant(item: T, now: number): P;
  /** This process's view of a changed item: wake waiters, patch the grant index. */
  applied?(item: T): void;
  notify(event: E, item: T): void;
}

/** Rows read per sweep / listing; items leave `pending` and `approved` within their TTLs. */
export const SCAN_LIMIT = 10_000;
const DUE_STATES = ['pending', 'approved'];

type AuditData = Record<string, unknown>;

export class ApprovalWorkflow<T extends Decidable, S extends string, P extends DecidablePatch, E extends string> {
  private readonly mutex = new KeyedMutex();

  constructor(
    private readonly ctx: DeskContext,
    private readonly kind: WorkflowKind<T, S, P, E>,
  ) {}

  /**
   * Audits a new pending item, then stores and notifies it. `strict`: a failed audit write is
   * thrown (and nothing is stored). Audited first: a process killed between the two leaves an
   * entry for an item never stored (crash recovery then finds nothing to expire), never a stored
   * pending item without its entry — which recovery, reading the log, could not see, so a review
   * held when the process died stayed pending (approvable for a client long gone).
   */
  async create(item: T, entry: { actor: string; session?: string; data: AuditData }, strict: boolean): Promise<T> {
    await audit(
      this.ctx,
      { type: this.kind.events.created, connection: item.connection, ...entry, data: entry.data },
      strict,
    );
    await this.kind.store.insert(item);
    this.kind.notify(this.kind.events.created, item);
    return item;
  }

  /** Adds one approval; the Nth distinct one approves the item with what the kind grants. */
  approve(id: string, approver: Actor, reason?: string): Promise<T> {
    return this.decideAs(id, approver, reason, (r) => {
      assertMayDecide(this.describe(id), this.eligibility(r), approver);
      const now = this.ctx.clock.now();
      const approvals = [...r.approvals, { ...principalOf(approver), at: now, ...(reason ? { reason } : {}) }];
      if (approvals.length < r.approversRequired.count) return { approvals } as P;
      return { ...this.kind.grant(r, now), approvals, state: 'approved', decidedAt: now };
    });
  }

  /** One eligible approver's denial ends the item. */
  deny(id: string, approver: Actor, reason?: string): Promise<T> {
    return this.decideAs(id, approver, reason, (r) => {
      // Denying is deciding: the same eligibility, minus the "already approved" check (an
      // approver of an N-of-M item may still change their mind and deny it).
      assertMayDecide(this.describe(id), { ...this.eligibility(r), approvals: [] }, approver);
      return { state: 'denied', decidedAt: this.ctx.clock.now() } as P;
    });
  }

  /** Ends an approved item now. Who may see it may revoke it (callers that allow revoking). */
  revoke(id: string, actor: Actor, reason?: string): Promise<T> {
    return this.decideAs(id, actor, reason, (r) => {
      if (r.state !== 'approved') {
        throw new WardenError('WARDEN_REVIEW_FORBIDDEN', `${this.describe(id)} is ${r.state}, not an active grant`, {
          detail: { reason: 'not-approved', state: r.state },
        });
      }
      return { state: 'revoked', expiresAt: this.ctx.clock.now() } as P;
    });
  }

  async get(id: string): Promise<T> {
    const r = await this.kind.store.get(id);
    if (!r) throw this.notFound(id);
    return r;
  }

  /** An item the viewer may see (their own, one they may approve, or any for admins); not found otherwise. */
  async getVisible(viewer: Actor, id: string): Promise<T> {
    const r = await this.kind.store.get(id);
    if (!r || !mayView(this.ctx.config, viewer, this.eligibility(r))) throw this.notFound(id);
    return r;
  }

  async list(viewer: Actor, state?: S, limit = 500): Promise<T[]> {
    const rows = await this.kind.store.list({ ...(state ? { state } : {}), limit: SCAN_LIMIT });
    return rows.filter((r) => mayView(this.ctx.config, viewer, this.eligibility(r))).slice(0, limit);
  }

  /** Pending and approved items past their `expiresAt` become `expired`. */
  async expireDue(): Promise<number> {
    const now = this.ctx.clock.now();
    let n = 0;
    for (const state of DUE_STATES as S[]) {
      for (const r of await this.kind.store.list({ state, limit: SCAN_LIMIT })) {
        if (r.expiresAt <= now && (await this.expire(r.id))) n++;
      }
    }
    return n;
  }

  /**
   * One audited decision by `actor`: visible to them (else not found, as GET answers, never a
   * 403 with its state), expired first when its time is up (so a late approver sees the truth),
   * then `decide` against the current row, compare-and-set, effects, audit.
   */
  private decideAs(id: string, actor: Actor, reason: string | undefined, decide: (r: T) => P): Promise<T> {
    return this.mutex.run(id, async () => {
      const seen = await this.getVisible(actor, id);
      if (DUE_STATES.includes(seen.state) && seen.expiresAt <= this.ctx.clock.now()) await this.expire(id);
      const done = await this.kind.store.transition(id, decide);
      if (!done) throw this.notFound(id);
      const { before, after } = done;
      const decided = after.state !== before.state;
      // Waiters and webhooks learn of the decision even if the audit write then fails.
      if (decided) this.changed(after);
      const requester = this.kind.requester(before);
      await audit(
        this.ctx,
        {
          type: decided ? this.eventFor(after.state) : this.kind.events.approval,
          actor: actor.sub,
          connection: before.connection,
          data: {
            issuer: actor.issuer,
            [this.kind.idKey]: id,
            requester: requester.sub,
            requesterIssuer: requester.issuer,
            ...(after.state === 'approved' || !decided
              ? { approvals: after.approvals.length, required: before.approversRequired.count }
              : {}),
            ...(after.state === 'approved' ? { expiresAt: after.expiresAt } : {}),
            ...(reason ? { reason } : {}),
          },
        },
        true,
      );
      return after;
    });
  }

  /** Expires the item if it is still due; false when another instance (or a use) got there first. */
  private async expire(id: string): Promise<boolean> {
    const now = this.ctx.clock.now();
    const done = await this.kind.store.transition(id, (r) =>
      DUE_STATES.includes(r.state) && r.expiresAt <= now ? ({ state: 'expired' } as P) : null,
    );
    if (!done) return false;
    const requester = this.kind.requester(done.before);
    this.changed(done.after);
    await audit(
      this.ctx,
      {
        type: this.kind.events.expired,
        connection: done.before.connection,
        data: {
          [this.kind.idKey]: id,
          requester: requester.sub,
          requesterIssuer: requester.issuer,
          was: done.before.state,
        },
      },
      false,
    );
    return true;
  }

  private changed(item: T): void {
    this.kind.applied?.(item);
    this.kind.notify(this.eventFor(item.state), item);
  }

  private eventFor(state: string): E {
    const { approved, denied, expired, revoked } = this.kind.events;
    const byState: Partial<Record<string, E>> = { approved, denied, expired, revoked };
    const event = byState[state];
    if (event === undefined) throw new Error(`${this.kind.noun}: no event for state ${state}`);
    return event;
  }

  private eligibility(r: T): DecidableItem {
    return {
      state: r.state,
      requester: this.kind.requester(r),
      approversRequired: r.approversRequired,
      approvals: r.approvals,
    };
  }

  private describe(id: string): string {
    return `${this.kind.noun} ${id}`;
  }

  // No dedicated "access request not found" code exists; the review one reads the same to users.
  private notFound(id: string): WardenError {
    return new WardenError('WARDEN_REVIEW_NOT_FOUND', `no ${this.kind.noun} '${id}'`);
  }
}
