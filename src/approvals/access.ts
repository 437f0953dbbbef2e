// Just-in-time access: a `jit: true` access entry grants nothing until its holder requests
// time-bound access and the entry's approvers approve; the grant then ends by itself, or
// earlier when revoked. Every state change is audited and notified.

import { WardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { principalOf } from '../core/principal.js';
import type { AccessRequest, AccessRequestState } from '../store/index.js';
import { type Actor, audit, type DeskContext, KeyedMutex } from './context.js';
import { assertMayDecide, type DecidableItem, jitTerms, mayView, PENDING_TTL_MS } from './eligibility.js';
import type { GrantIndex } from './grant-index.js';
import type { AccessEvent } from './notify.js';

export const ACCESS_STATES: readonly AccessRequestState[] = ['pending', 'approved', 'denied', 'revoked', 'expired'];
const SCAN_LIMIT = 10_000;
const MAX_REASON = 1000;

export class AccessDesk {
  private readonly mutex = new KeyedMutex();

  constructor(
    private readonly ctx: DeskContext,
    private readonly grants: GrantIndex,
  ) {}

  /** Requests `durationMs` of access (capped by the entry's `maxDuration`). */
  async request(requester: Actor, connection: string, durationMs: number, reason: string): Promise<AccessRequest> {
    const { config, store, clock } = this.ctx;
    if (!Object.hasOwn(config.connections, connection)) {
      throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `no connection named '${connection}'`);
    }
    if (!Number.isFinite(durationMs) || durationMs <= 0) {
      throw new WardenError('WARDEN_USAGE', 'the access duration must be positive, e.g. 30m');
    }
    const why = reason.trim();
    if (why === '') throw new WardenError('WARDEN_USAGE', 'a reason is required for an access request');
    if (why.length > MAX_REASON)
      throw new WardenError('WARDEN_USAGE', `the reason is longer than ${MAX_REASON} characters`);
    const terms = jitTerms(config, requester.groups, connection);
    if (!terms) {
      throw new WardenError('WARDEN_ACCESS_DENIED', `no just-in-time access entry lets you request '${connection}'`);
    }
    const now = clock.now();
    const request: AccessRequest = {
      id: newId('g', now),
      issuer: requester.issuer,
      sub: requester.sub,
      groups: [...requester.groups],
      connection,
      reason: why,
      durationMs: Math.min(Math.floor(durationMs), terms.maxDurationMs),
      state: 'pending',
      approvals: [],
      approversRequired: terms.approversRequired,
      createdAt: now,
      decidedAt: null,
      expiresAt: now + PENDING_TTL_MS,
    };
    await store.insertAccessRequest(request);
    await audit(
      this.ctx,
      {
        type: 'access.requested',
        actor: request.sub,
        connection,
        data: {
          issuer: request.issuer,
          request: request.id,
          durationMs: request.durationMs,
          ...(request.durationMs < durationMs ? { requestedMs: Math.floor(durationMs) } : {}),
          reason: why,
          approvers: request.approversRequired,
        },
      },
      true,
    );
    this.notify('access.requested', request);
    return request;
  }

  /** The Nth distinct approval turns the request into a grant for `durationMs` from now. */
  approve(id: string, approver: Actor, reason?: string): Promise<AccessRequest> {
    return this.mutex.run(id, async () => {
      const { clock, store } = this.ctx;
      const r = await this.currentVisible(approver, id);
      assertMayDecide(`access request ${id}`, forCheck(r), approver);
      const now = clock.now();
      const approvals = [...r.approvals, { ...principalOf(approver), at: now, ...(reason ? { reason } : {}) }];
      const done = approvals.length >= r.approversRequired.count;
      const updated = await store.updateAccessRequest(
        id,
        done ? { approvals, state: 'approved', decidedAt: now, expiresAt: now + r.durationMs } : { approvals },
        { expectState: 'pending' },
      );
      if (!updated) throw await this.lostRace(id);
      if (done) this.grants.add(updated);
      if (done) this.notify('access.approved', updated);
      await audit(
        this.ctx,
        {
          type: done ? 'access.approved' : 'access.approval',
          actor: approver.sub,
          connection: r.connection,
          data: {
            issuer: approver.issuer,
            request: id,
            requester: r.sub,
            requesterIssuer: r.issuer,
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

  deny(id: string, approver: Actor, reason?: string): Promise<AccessRequest> {
    return this.mutex.run(id, async () => {
      const r = await this.currentVisible(approver, id);
      assertMayDecide(`access request ${id}`, { ...forCheck(r), approvals: [] }, approver);
      const updated = await this.ctx.store.updateAccessRequest(
        id,
        { state: 'denied', decidedAt: this.ctx.clock.now() },
        { expectState: 'pending' },
      );
      if (!updated) throw await this.lostRace(id);
      this.notify('access.denied', updated);
      await audit(
        this.ctx,
        {
          type: 'access.denied',
          actor: approver.sub,
          connection: r.connection,
          data: {
            issuer: approver.issuer,
            request: id,
            requester: r.sub,
            requesterIssuer: r.issuer,
            ...(reason ? { reason } : {}),
          },
        },
        true,
      );
      return updated;
    });
  }

  /**
   * Ends an active grant now. Allowed to its approver groups, admins, and the grantee itself
   * (giving up access early only lowers privilege).
   */
  revoke(id: string, actor: Actor, reason?: string): Promise<AccessRequest> {
    return this.mutex.run(id, async () => {
      const { store, clock } = this.ctx;
      // Who may see it may revoke it: its grantee, its approver groups, admins (giving up one's
      // own access early only lowers privilege). Anyone else is told it does not exist.
      const r = await this.currentVisible(actor, id);
      if (r.state !== 'approved') {
        throw new WardenError('WARDEN_REVIEW_FORBIDDEN', `access request ${id} is ${r.state}, not an active grant`, {
          detail: { reason: 'not-approved', state: r.state },
        });
      }
      const now = clock.now();
      const updated = await store.updateAccessRequest(
        id,
        { state: 'revoked', expiresAt: now },
        { expectState: 'approved' },
      );
      if (!updated) throw await this.lostRace(id);
      this.grants.remove(id);
      this.notify('access.revoked', updated);
      await audit(
        this.ctx,
        {
          type: 'access.revoked',
          actor: actor.sub,
          connection: r.connection,
          data: {
            issuer: actor.issuer,
            request: id,
            requester: r.sub,
            requesterIssuer: r.issuer,
            ...(reason ? { reason } : {}),
          },
        },
        true,
      );
      return updated;
    });
  }

  async getVisible(viewer: Actor, id: string): Promise<AccessRequest> {
    const r = await this.ctx.store.getAccessRequest(id);
    if (!r || !mayView(this.ctx.config, viewer, forCheck(r))) throw notFound(id);
    return r;
  }

  async list(viewer: Actor, state?: AccessRequestState, limit = 500): Promise<AccessRequest[]> {
    const rows = await this.ctx.store.listAccessRequests({ ...(state ? { state } : {}), limit: SCAN_LIMIT });
    return rows.filter((r) => mayView(this.ctx.config, viewer, forCheck(r))).slice(0, limit);
  }

  /** Approved grants, for the in-memory index. */
  approved(): Promise<AccessRequest[]> {
    return this.ctx.store.listAccessRequests({ state: 'approved', limit: SCAN_LIMIT });
  }

  /** Pending requests and grants past their `expiresAt` become `expired`. */
  async expireDue(): Promise<number> {
    const now = this.ctx.clock.now();
    let n = 0;
    for (const state of ['pending', 'approved'] as const) {
      for (const r of await this.ctx.store.listAccessRequests({ state, limit: SCAN_LIMIT })) {
        if (r.expiresAt <= now && (await this.expire(r))) n++;
      }
    }
    return n;
  }

  /** current(), for a decision: a request the caller cannot see is not found (as GET answers), never 403 with its state. */
  private async currentVisible(viewer: Actor, id: string): Promise<AccessRequest> {
    const r = await this.current(id);
    if (!mayView(this.ctx.config, viewer, forCheck(r))) throw notFound(id);
    return r;
  }

  private async current(id: string): Promise<AccessRequest> {
    const r = await this.ctx.store.getAccessRequest(id);
    if (!r) throw notFound(id);
    if ((r.state === 'pending' || r.state === 'approved') && r.expiresAt <= this.ctx.clock.now()) {
      await this.expire(r);
      return (await this.ctx.store.getAccessRequest(id)) ?? r;
    }
    return r;
  }

  private async expire(r: AccessRequest): Promise<boolean> {
    const updated = await this.ctx.store.updateAccessRequest(r.id, { state: 'expired' }, { expectState: r.state });
    if (!updated) return false;
    this.grants.remove(r.id);
    await audit(
      this.ctx,
      {
        type: 'access.expired',
        connection: r.connection,
        data: { request: r.id, requester: r.sub, requesterIssuer: r.issuer, was: r.state },
      },
      false,
    );
    this.notify('access.expired', updated);
    return true;
  }

  private async lostRace(id: string): Promise<WardenError> {
    const now = await this.ctx.store.getAccessRequest(id);
    return new WardenError('WARDEN_REVIEW_FORBIDDEN', `access request ${id} is already ${now?.state ?? 'gone'}`, {
      detail: { reason: 'not-pending', state: now?.state ?? 'unknown' },
    });
  }

  private notify(event: AccessEvent, request: AccessRequest): void {
    this.ctx.notifier.emit({ event, request, at: this.ctx.clock.now() });
  }
}

// No dedicated "access request not found" code exists yet; the review one reads the same to users.
function notFound(id: string): WardenError {
  return new WardenError('WARDEN_REVIEW_NOT_FOUND', `no access request '${id}'`);
}

function forCheck(r: AccessRequest): DecidableItem {
  return { state: r.state, requester: principalOf(r), approversRequired: r.approversRequired, approvals: r.approvals };
}
