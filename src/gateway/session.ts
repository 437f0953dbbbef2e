// One client session through the gateway: the per-operation pipeline lives here, once, for every
// protocol: identify → analyze → decide → (review / hold) → audit → record. Adapters call
// `decide()` for each operation and enforce the Verdict in their own protocol.
import { performance } from 'node:perf_hooks';
import { newId } from '../core/ids.js';
import type {
  CommandFacts,
  ConnectionRef,
  Decision,
  HttpFacts,
  Identity,
  K8sFacts,
  Operation,
  Reason,
  SessionFacts,
  SqlKind,
} from '../core/types.js';
import { analyzeCommand, analyzePostgres } from '../analysis/index.js';
import { compileMasker, type Masker } from '../masking/index.js';
import type { SessionRecording } from '../recording/index.js';
import type { ConnectionConfig } from '../config/schema.js';
import type { Gateway } from './gateway.js';
import { type Verdict, refusalMessage, winningReason } from './verdict.js';

export type OperationInput =
  | { kind: 'sql'; text: string; prepared?: ReadonlyMap<string, SqlKind[]> }
  | { kind: 'command'; text: string; command?: CommandFacts }
  | { kind: 'http'; text: string; http: HttpFacts }
  | { kind: 'k8s'; text: string; k8s: K8sFacts }
  | { kind: 'session'; text: string; session: SessionFacts };

/** What an adapter reports after an operation ran (already masked). */
export interface OperationResult {
  command?: string;
  columns?: string[];
  rows?: unknown[][];
  /** True number of rows, even when `rows` was capped. */
  rowCount?: number;
  error?: string;
  output?: string;
  status?: number;
}

export type SessionProtocol = ConnectionRef['type'] | 'mcp' | 'api';

export class GatewaySession {
  readonly id: string;
  readonly startedAt: number;
  closed = false;
  private operations = 0;
  private masker: Masker | null = null;
  /** The connection's masking plan for this identity: applied to what the client sent before it
   * goes to the recording, whatever the decision (a refused INSERT still quotes its values). */
  private readonly textMasker: Masker | null;

  constructor(
    private readonly gw: Gateway,
    readonly protocol: SessionProtocol,
    readonly identity: Identity,
    readonly connection: ConnectionRef,
    readonly connectionConfig: ConnectionConfig,
    readonly recording: SessionRecording,
    id: string,
  ) {
    this.id = id;
    this.startedAt = gw.clock.now();
    const plan = gw.policy.maskPlan(identity, connection.name);
    const m = plan ? compileMasker(plan) : null;
    this.textMasker = m?.active ? m : null;
  }

  /** Rows kept per statement in the recording. */
  get recordRows(): number {
    return this.connectionConfig.recordRows;
  }

  /** Decide one operation. Never throws for policy reasons: a refusal is data in the Verdict. */
  async decide(input: OperationInput, opts: { signal?: AbortSignal } = {}): Promise<Verdict> {
    const started = performance.now();
    const op = this.buildOperation(input);
    let decision = this.evaluate(op);
    let reviewId: string | undefined;

    if (decision.effect === 'review') {
      try {
        const outcome = await this.handleReview(op, decision, opts.signal);
        decision = outcome.decision;
        reviewId = outcome.reviewId;
      } catch (err) {
        this.gw.logger.error({ err: String(err), op: op.id }, 'review could not be created or checked; refusing operation');
        decision = failClosed(decision, 'the review could not be recorded');
      }
    }

    try {
      await this.gw.audit.append({
        type: 'operation',
        actor: this.identity.sub,
        session: this.id,
        connection: this.connection.name,
        data: {
          op: op.id,
          kind: op.kind,
          text: auditText(op),
          effect: decision.effect,
          rules: decision.rules,
          reasons: decision.reasons.map((r) => r.code),
          ...(reviewId ? { review: reviewId } : {}),
        },
      });
    } catch (err) {
      this.gw.logger.error({ err: String(err), session: this.id }, 'audit write failed; refusing operation');
      decision = failClosed(decision, 'the audit record could not be written');
    }

    const refused = decision.effect === 'block' || decision.effect === 'review';
    const terminate = decision.reasons.some((r) => r.code === 'identity-expired' || r.code === 'identity-revoked');
    const masker = !refused && decision.masking ? this.maskerFor(decision) : null;
    const winner = winningReason(decision, (rule) => this.gw.ruleAction(rule));
    const verdict: Verdict = {
      op,
      decision,
      masker,
      refusal: refused
        ? {
            kind: terminate
              ? 'identity'
              : decision.effect === 'review'
                ? 'review'
                : winner?.code === 'policy-error'
                  ? 'policy-error'
                  : 'blocked',
            message: refusalMessage(decision, winner, reviewId),
            ...(reviewId && decision.effect === 'review' ? { reviewId } : {}),
          }
        : null,
      terminate,
    };

    this.operations++;
    this.recording.event({
      type: 'operation',
      op: op.id,
      kind: op.kind,
      text: (masker ?? this.textMasker)?.maskText(op.text) ?? op.text,
      effect: decision.effect,
      rules: decision.rules,
      ...(verdict.refusal ? { refusal: verdict.refusal.message } : {}),
    });
    this.gw.metrics.decisions.inc({ effect: decision.effect, protocol: this.protocol, kind: op.kind });
    this.gw.metrics.decideSeconds.observe({ protocol: this.protocol }, (performance.now() - started) / 1000);
    return verdict;
  }

  /** Record what the client received for an operation (values already masked by the adapter). */
  recordResult(opId: string, result: OperationResult): void {
    this.recording.event({ type: 'result', op: opId, ...result });
  }

  async close(reason = 'client disconnected'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.gw.endSession(this, reason, this.operations);
  }

  private evaluate(op: Operation): Decision {
    const problem = this.gw.identityProblem(this.identity);
    if (problem) return { effect: 'block', rules: [], reasons: [problem], masking: null, review: null };
    try {
      return this.gw.policy.decide(op, { jitGrants: this.gw.approvals.activeGrants(this.identity) });
    } catch (err) {
      this.gw.logger.error({ err: String(err), op: op.id }, 'policy evaluation failed');
      return failClosed(null, 'the policy could not be evaluated');
    }
  }

  private async handleReview(
    op: Operation,
    decision: Decision,
    signal: AbortSignal | undefined,
  ): Promise<{ decision: Decision; reviewId?: string }> {
    const approved = await this.gw.approvals.consumeApproval(op);
    if (approved) return { decision: approvedDecision(decision, approved), reviewId: approved };
    const ticket = await this.gw.approvals.createReview(op, decision);
    const holdMs = decision.review?.holdMs ?? 0;
    if (holdMs > 0) {
      const state = await this.gw.approvals.waitForDecision(ticket.id, holdMs, signal);
      if (state === 'approved') {
        const used = await this.gw.approvals.consumeApproval(op);
        if (used) return { decision: approvedDecision(decision, used), reviewId: used };
      }
    }
    return { decision, reviewId: ticket.id };
  }

  private maskerFor(decision: Decision): Masker | null {
    const plan = decision.masking;
    if (!plan) return null;
    const m = compileMasker(plan);
    this.masker = m;
    return m.active ? m : null;
  }

  /** The masker of the latest masked operation (for text the client sent later, e.g. errors). */
  get currentMasker(): Masker | null {
    return this.masker ?? this.textMasker;
  }

  private buildOperation(input: OperationInput): Operation {
    const base = {
      id: newId('op', this.gw.clock.now()),
      session: this.id,
      connection: this.connection,
      identity: this.identity,
      text: input.text,
      at: this.gw.clock.now(),
    };
    switch (input.kind) {
      case 'sql': {
        // MySQL brings its own parser with the MySQL adapter; Postgres is the default dialect.
        const a = analyzePostgres(input.text, input.prepared ? { prepared: input.prepared } : undefined);
        return { ...base, kind: 'sql', sql: a.facts, normalized: a.normalized };
      }
      case 'command':
        return { ...base, kind: 'command', command: input.command ?? analyzeCommand(input.text) };
      case 'http':
        return { ...base, kind: 'http', http: input.http };
      case 'k8s':
        return { ...base, kind: 'k8s', k8s: input.k8s };
      case 'session':
        return { ...base, kind: 'session', session_: input.session };
    }
  }
}

function approvedDecision(decision: Decision, reviewId: string): Decision {
  const reason: Reason = { code: 'review-approved', message: `approved in review ${reviewId}` };
  return { ...decision, effect: decision.masking ? 'mask' : 'allow', reasons: [...decision.reasons, reason] };
}

function failClosed(prev: Decision | null, message: string): Decision {
  return {
    effect: 'block',
    rules: prev?.rules ?? [],
    reasons: [{ code: 'policy-error', effect: 'block', message }, ...(prev?.reasons ?? [])],
    masking: null,
    review: null,
  };
}

// The audit log keeps the normalized statement (literals removed) so that a password in
// `ALTER ROLE … PASSWORD '…'` or a value being inserted never lands in the log; the recording
// keeps the exact text.
function auditText(op: Operation): string {
  return op.kind === 'sql' ? op.normalized : op.text.length > 2000 ? `${op.text.slice(0, 2000)}…` : op.text;
}
