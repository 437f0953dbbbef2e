// Just-in-time access: a `jit: true` access entry grants nothing until its holder requests
// time-bound access and the entry's approvers approve it through the approval workflow; the
// grant then ends by itself, or earlier when revoked.

import { WardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { principalOf } from '../core/principal.js';
import type { AccessRequest, AccessRequestPatch, AccessRequestState } from '../store/index.js';
import type { Actor, DeskContext } from './context.js';
import { jitTerms, PENDING_TTL_MS } from './eligibility.js';
import type { GrantIndex } from './grant-index.js';
import type { AccessEvent } from './notify.js';
import { ApprovalWorkflow, decisionEvents, SCAN_LIMIT, type WorkflowKind } from './workflow.js';

export const ACCESS_STATES: readonly AccessRequestState[] = ['pending', 'approved', 'denied', 'revoked', 'expired'];
const MAX_REASON = 1000;

/** Access requests in the approval workflow: an approval grants the connection for `durationMs` from then. */
function accessKind(
  ctx: DeskContext,
  grants: GrantIndex,
): WorkflowKind<AccessRequest, AccessRequestState, AccessRequestPatch, AccessEvent> {
  const { store } = ctx;
  return {
    noun: 'access request',
    idKey: 'request',
    events: { ...decisionEvents('access'), created: 'access.requested', revoked: 'access.revoked' },
    store: {
      insert: (r) => store.insertAccessRequest(r),
      get: (id) => store.getAccessRequest(id),
      list: (q) => store.listAccessRequests(q),
      transition: (id, decide) => store.transitionAccessRequest(id, decide),
    },
    requester: principalOf,
    grant: (r, now) => ({ expiresAt: now + r.durationMs }),
    // The grant index follows at once here; other instances catch up at their next refresh.
    applied: (r) => (r.state === 'approved' ? grants.add(r) : grants.remove(r.id)),
    notify: (event, request) => ctx.notifier.emit({ event, request, at: ctx.clock.now() }),
  };
}

/** What only access requests do: be requested, feed the grant index. Deciding is `flow`'s. */
export class AccessDesk {
  readonly flow: ApprovalWorkflow<AccessRequest, AccessRequestState, AccessRequestPatch, AccessEvent>;

  constructor(
    private readonly ctx: DeskContext,
    grants: GrantIndex,
  ) {
    this.flow = new ApprovalWorkflow(ctx, accessKind(ctx, grants));
  }

  /** Requests `durationMs` of access (capped by the entry's `maxDuration`). */
  async request(requester: Actor, connection: string, durationMs: number, reason: string): Promise<AccessRequest> {
    const { config, clock } = this.ctx;
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
    const data = {
      issuer: request.issuer,
      request: request.id,
      durationMs: request.durationMs,
      ...(request.durationMs < durationMs ? { requestedMs: Math.floor(durationMs) } : {}),
      reason: why,
      approvers: request.approversRequired,
    };
    return this.flow.create(request, { actor: request.sub, data }, true);
  }

  /** Approved grants, for the in-memory index. */
  approved(): Promise<AccessRequest[]> {
    return this.ctx.store.listAccessRequests({ state: 'approved', limit: SCAN_LIMIT });
  }
}
