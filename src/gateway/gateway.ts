// The Gateway ties the core together: identity, policy, approvals, audit, recording, metrics.
// Adapters receive it and only call openSession() / session.decide() / session.close().
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/index.js';
import type { ConnectionConfig, WardenConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { WardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { principalKey } from '../core/principal.js';
import type { Effect, Identity, Reason } from '../core/types.js';
import type { IdentityVerifier } from '../identity/index.js';
import type { Policy } from '../policy/index.js';
import type { InProcessRequest } from '../protocols/engine.js';
import { loadAnalysis } from '../protocols/registry.js';
import type { Recorder } from '../recording/index.js';
import type { Store } from '../store/index.js';
import type { GatewayMetrics } from './metrics.js';
import type { ApprovalsPort } from './ports.js';
import type { RevocationCache } from './revocations.js';
import { GatewaySession, type SessionProtocol } from './session.js';
import type { VerdictObserver } from './verdict.js';

export interface GatewayDeps {
  config: WardenConfig;
  policy: Policy;
  verifier: IdentityVerifier;
  store: Store;
  audit: AuditLog;
  recorder: Recorder;
  approvals: ApprovalsPort;
  revocations: RevocationCache;
  clock: Clock;
  logger: Logger;
  metrics: GatewayMetrics;
}

export interface OpenSessionRequest {
  protocol: SessionProtocol;
  connection: string;
  /** The bearer token, or an identity already verified by the caller (REST/MCP per request). */
  token?: string;
  identity?: Identity;
  clientAddress?: string;
  /**
   * Last check before the session opens (after identity, access and the per-identity limit),
   * e.g. an adapter reserving an upstream slot; throw a WardenError to refuse, audited as such.
   */
  admit?: (identity: Identity) => void;
  /** Receives each Verdict of the session as data (in-process callers report from it). */
  onVerdict?: VerdictObserver;
  /** `deferred`: the adapter calls `session.recording.begin(format)` when it knows (SSH). */
  format?: 'jsonl' | 'asciicast' | 'deferred';
  width?: number;
  height?: number;
}

export class Gateway {
  readonly config: WardenConfig;
  readonly policy: Policy;
  readonly verifier: IdentityVerifier;
  readonly store: Store;
  readonly audit: AuditLog;
  readonly recorder: Recorder;
  readonly approvals: ApprovalsPort;
  readonly revocations: RevocationCache;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly sessions = new Map<string, GatewaySession>();
  /**
   * Engines that serve sessions in-process (over an in-memory stream, for an identity the caller
   * verified), by protocol: REST `exec` and MCP tools run through the adapter's own session code
   * and receive each Verdict as data. Filled by startGateway.
   */
  readonly inProcessDoors = new Map<string, (req: InProcessRequest) => Duplex>();
  private readonly ruleActions: Map<string, Effect>;
  /** Open sessions per principal (issuer + sub), for limits.sessionsPerIdentity. */
  private readonly openPerPrincipal = new Map<string, number>();

  constructor(deps: GatewayDeps) {
    this.config = deps.config;
    this.policy = deps.policy;
    this.verifier = deps.verifier;
    this.store = deps.store;
    this.audit = deps.audit;
    this.recorder = deps.recorder;
    this.approvals = deps.approvals;
    this.revocations = deps.revocations;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.metrics = deps.metrics;
    this.ruleActions = new Map(deps.config.rules.map((r) => [r.name, r.action]));
  }

  ruleAction(name: string): Effect | undefined {
    return this.ruleActions.get(name);
  }

  connectionConfig(name: string): ConnectionConfig | undefined {
    return Object.hasOwn(this.config.connections, name) ? this.config.connections[name] : undefined;
  }

  /** Verify a token and check revocation. Throws WardenError with a stable code. */
  async authenticate(token: string): Promise<Identity> {
    const identity = await this.verifier.verify(token);
    const problem = this.identityProblem(identity);
    if (problem) {
      throw new WardenError(
        problem.code === 'identity-revoked' ? 'WARDEN_TOKEN_REVOKED' : 'WARDEN_TOKEN_EXPIRED',
        problem.message,
      );
    }
    return identity;
  }

  /** Re-checked on every operation: a session whose token expired or was revoked is cut. */
  identityProblem(identity: Identity): Reason | null {
    if (identity.expiresAt <= this.clock.now()) {
      return {
        code: 'identity-expired',
        effect: 'block',
        message: `identity token expired at ${new Date(identity.expiresAt).toISOString()}`,
      };
    }
    if (this.revocations.isRevoked(identity)) {
      return { code: 'identity-revoked', effect: 'block', message: 'identity token was revoked' };
    }
    return null;
  }

  /**
   * Authenticate, route and check access for a new client session. On success the session is
   * recorded and audited; on failure the refusal is audited and a WardenError thrown.
   */
  async openSession(req: OpenSessionRequest): Promise<GatewaySession> {
    const connection = this.connectionConfig(req.connection);
    let identity: Identity | undefined = req.identity;
    try {
      if (!identity) {
        if (!req.token) throw new WardenError('WARDEN_TOKEN_INVALID', 'no identity token was presented');
        identity = await this.authenticate(req.token);
      }
      if (!connection) {
        throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `no connection named '${req.connection}'`);
      }
      const access = this.policy.access(identity, req.connection, { jitGrants: this.approvals.activeGrants(identity) });
      if (!access.granted) {
        throw new WardenError('WARDEN_ACCESS_DENIED', access.reason.message);
      }
      // The first session of a type loads its analysis (libpg-query for postgres), only for an
      // identity with access; a load that fails refuses the session (audited below) rather than
      // let operations reach an unready parser.
      await loadAnalysis(connection.type).catch((cause: unknown) => {
        this.logger.error({ err: cause, connectionType: connection.type }, 'operation analysis failed to load');
        throw new WardenError(
          'WARDEN_POLICY_ERROR',
          `the operation analysis for ${connection.type} connections could not be loaded`,
          { cause },
        );
      });
      const limit = this.config.limits.sessionsPerIdentity;
      if ((this.openPerPrincipal.get(principalKey(identity)) ?? 0) >= limit) {
        throw new WardenError(
          'WARDEN_TOO_MANY_CONNECTIONS',
          `too many connections for identity '${identity.sub}': ${limit} sessions open (limits.sessionsPerIdentity)`,
        );
      }
      req.admit?.(identity);
    } catch (err) {
      const code = err instanceof WardenError ? err.code : 'WARDEN_POLICY_ERROR';
      this.metrics.sessionsRejected.inc({ protocol: req.protocol, reason: code });
      await this.audit
        .append({
          type: 'session.denied',
          ...(identity ? { actor: identity.sub } : {}),
          connection: req.connection,
          data: {
            ...(identity ? { issuer: identity.issuer } : {}),
            protocol: req.protocol,
            code,
            reason: err instanceof Error ? err.message : String(err),
            client: req.clientAddress ?? null,
          },
        })
        .catch((err) => this.logger.error({ err }, 'audit write failed'));
      throw err;
    }

    // Counted from here (no await since the check), so concurrent opens cannot overshoot.
    const principal = principalKey(identity);
    this.openPerPrincipal.set(principal, (this.openPerPrincipal.get(principal) ?? 0) + 1);
    try {
      return await this.startSession(req, identity, connection);
    } catch (err) {
      this.leavePrincipal(principal);
      throw err;
    }
  }

  private async startSession(
    req: OpenSessionRequest,
    identity: Identity,
    connection: ConnectionConfig,
  ): Promise<GatewaySession> {
    const id = newId('s', this.clock.now());
    const recording = await this.recorder.start({
      session: id,
      connection: req.connection,
      connectionType: connection.type,
      issuer: identity.issuer,
      sub: identity.sub,
      groups: identity.groups,
      format: req.format ?? 'jsonl',
      ...(req.width ? { width: req.width } : {}),
      ...(req.height ? { height: req.height } : {}),
    });
    const session = new GatewaySession(
      this,
      req.protocol,
      identity,
      { name: req.connection, type: connection.type },
      connection,
      recording,
      id,
      req.onVerdict,
    );
    this.sessions.set(id, session);
    this.metrics.sessionsOpen.inc({ protocol: req.protocol });
    try {
      await this.audit.append({
        type: 'session.start',
        actor: identity.sub,
        session: id,
        connection: req.connection,
        data: {
          protocol: req.protocol,
          groups: identity.groups,
          issuer: identity.issuer,
          client: req.clientAddress ?? null,
        },
      });
    } catch (err) {
      // Never started: not an open session (the caller's catch releases the principal's count).
      this.sessions.delete(id);
      this.metrics.sessionsOpen.dec({ protocol: req.protocol });
      session.closed = true;
      await recording.end('audit write failed').catch(() => {});
      throw err;
    }
    return session;
  }

  private leavePrincipal(principal: string): void {
    const n = (this.openPerPrincipal.get(principal) ?? 1) - 1;
    if (n <= 0) this.openPerPrincipal.delete(principal);
    else this.openPerPrincipal.set(principal, n);
  }

  /** Open sessions of a principal (all connections and protocols). */
  openSessionsOf(identity: Pick<Identity, 'issuer' | 'sub'>): number {
    return this.openPerPrincipal.get(principalKey(identity)) ?? 0;
  }

  /** Called by GatewaySession.close(). */
  async endSession(session: GatewaySession, reason: string, operations: number): Promise<void> {
    if (this.sessions.delete(session.id)) this.leavePrincipal(principalKey(session.identity));
    this.metrics.sessionsOpen.dec({ protocol: session.protocol });
    try {
      await session.recording.end(reason);
    } catch (err) {
      this.logger.error({ err, session: session.id }, 'recording end failed');
    }
    await this.audit
      .append({
        type: 'session.end',
        actor: session.identity.sub,
        session: session.id,
        connection: session.connection.name,
        data: { issuer: session.identity.issuer, reason, operations },
      })
      .catch((err) => this.logger.error({ err }, 'audit write failed'));
  }
}
