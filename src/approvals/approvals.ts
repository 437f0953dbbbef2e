// The approvals concern's face to the gateway (ApprovalsPort) and to the REST routes: reviews,
// JIT grants and notifications over the shared store, plus the refresh loop that keeps the
// grant index current and expires what has lapsed.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/index.js';
import type { WardenConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Decision, Identity, Operation } from '../core/types.js';
import type { ApprovalsPort, ReviewTicket } from '../gateway/ports.js';
import type { AccessRequest, AccessRequestState, Review, ReviewState, Store } from '../store/index.js';
import { AccessDesk } from './access.js';
import type { Actor, DeskContext } from './context.js';
import { jitGroupsByConnection } from './eligibility.js';
import { GrantIndex } from './grant-index.js';
import type { ImpactPreviewer } from './impact.js';
import { Notifier, type NotifierOptions } from './notify.js';
import { ReviewDesk } from './reviews.js';
import { waitForState } from './wait.js';

export interface ApprovalsDeps {
  config: WardenConfig;
  store: Store;
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
  logger: Logger;
  /** Grant index refresh and expiry sweep interval (default 1 s). */
  refreshMs?: number;
  /** Store poll interval while an operation waits for a decision (default 250 ms). */
  pollMs?: number;
  /** Webhook retry tuning (attempts, base delay, timeout). */
  webhookRetry?: Pick<NotifierOptions, 'attempts' | 'baseDelayMs' | 'timeoutMs'>;
  /** Impact previews for new reviews (the server wiring reaches targets; omitted: impact unknown). */
  impact?: ImpactPreviewer;
}

export class Approvals implements ApprovalsPort {
  readonly notifier: Notifier;
  private readonly ctx: DeskContext;
  private readonly reviews: ReviewDesk;
  private readonly access: AccessDesk;
  private readonly grants = new GrantIndex();
  private readonly jitGroups: Map<string, Set<string>>;
  private readonly refreshMs: number;
  private readonly pollMs: number;
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(deps: ApprovalsDeps) {
    this.notifier = new Notifier({
      webhooks: deps.config.notifications.webhooks,
      consoleUrl: deps.config.console?.url,
      logger: deps.logger,
      ...deps.webhookRetry,
    });
    const decisions = new EventEmitter();
    decisions.setMaxListeners(0);
    this.ctx = {
      config: deps.config,
      store: deps.store,
      audit: deps.audit,
      clock: deps.clock,
      logger: deps.logger,
      notifier: this.notifier,
      decisions,
    };
    this.reviews = new ReviewDesk(this.ctx, deps.impact);
    this.access = new AccessDesk(this.ctx, this.grants);
    this.jitGroups = jitGroupsByConnection(deps.config);
    this.refreshMs = deps.refreshMs ?? 1000;
    this.pollMs = deps.pollMs ?? 250;
  }

  /** Loads the grant index and starts the refresh / expiry loop. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  /** Stops the loop and releases every waiting operation (with its last known state). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopping.abort();
  }

  /** One refresh: expire what lapsed, then reload the grant index. Never throws; overlapping calls share one run. */
  refresh(): Promise<void> {
    this.refreshing ??= this.runRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  // ---- ApprovalsPort (the data path) ----

  activeGrants(identity: Identity): string[] {
    const connections = this.grants.connections(identity, this.ctx.clock.now());
    if (connections.length === 0) return connections;
    // A grant counts only while a JIT entry still covers one of the identity's current groups.
    return connections.filter((c) => {
      const groups = this.jitGroups.get(c);
      return groups !== undefined && identity.groups.some((g) => groups.has(g));
    });
  }

  consumeApproval(op: Operation): Promise<string | null> {
    return this.reviews.consume(op);
  }

  async createReview(op: Operation, decision: Decision): Promise<ReviewTicket> {
    const r = await this.reviews.create(op, decision);
    return { id: r.id, state: r.state };
  }

  waitForDecision(reviewId: string, ms: number, signal?: AbortSignal): Promise<ReviewTicket['state']> {
    const signals = signal ? AbortSignal.any([signal, this.stopping.signal]) : this.stopping.signal;
    return waitForState({
      id: reviewId,
      ms,
      signal: signals,
      decisions: this.ctx.decisions,
      read: async () => (await this.reviews.flow.get(reviewId)).state,
      pollMs: this.pollMs,
      onPollError: (err) => this.ctx.logger.warn({ err, review: reviewId }, 'review poll failed'),
    });
  }

  // ---- Reviews (REST, CLI) ----

  approve(id: string, approver: Actor, reason?: string): Promise<Review> {
    return this.reviews.flow.approve(id, approver, reason);
  }

  deny(id: string, approver: Actor, reason?: string): Promise<Review> {
    return this.reviews.flow.deny(id, approver, reason);
  }

  /** A review the viewer may see; WARDEN_REVIEW_NOT_FOUND otherwise (existence is not revealed). */
  getReview(viewer: Actor, id: string): Promise<Review> {
    return this.reviews.flow.getVisible(viewer, id);
  }

  /** Reviews the viewer may see: their own, those they may approve; admins see all. Newest first. */
  listReviews(viewer: Actor, state?: ReviewState, limit?: number): Promise<Review[]> {
    return this.reviews.flow.list(viewer, state, limit);
  }

  // ---- Just-in-time access ----

  requestAccess(identity: Actor, connection: string, durationMs: number, reason: string): Promise<AccessRequest> {
    return this.access.request(identity, connection, durationMs, reason);
  }

  approveAccess(id: string, approver: Actor, reason?: string): Promise<AccessRequest> {
    return this.access.flow.approve(id, approver, reason);
  }

  denyAccess(id: string, approver: Actor, reason?: string): Promise<AccessRequest> {
    return this.access.flow.deny(id, approver, reason);
  }

  revokeAccess(id: string, actor: Actor, reason?: string): Promise<AccessRequest> {
    return this.access.flow.revoke(id, actor, reason);
  }

  getAccess(viewer: Actor, id: string): Promise<AccessRequest> {
    return this.access.flow.getVisible(viewer, id);
  }

  listAccess(viewer: Actor, state?: AccessRequestState, limit?: number): Promise<AccessRequest[]> {
    return this.access.flow.list(viewer, state, limit);
  }

  private async runRefresh(): Promise<void> {
    try {
      await this.reviews.flow.expireDue();
      await this.access.flow.expireDue();
      await this.grants.rebuild(() => this.access.approved());
    } catch (err) {
      this.ctx.logger.warn({ err }, 'approvals refresh failed; keeping the previous grant index');
    }
  }
}

/** The Approvals behind a gateway's ApprovalsPort (the REST routes need more than the port). */
export function approvalsOf(port: ApprovalsPort): Approvals {
  if (!(port instanceof Approvals)) throw new TypeError('this gateway was built without the approvals concern');
  return port;
}
