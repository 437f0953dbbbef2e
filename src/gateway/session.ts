// One client session through the gateway: the per-operation pipeline lives here, once, for every
// protocol: identify → analyze → decide → (review / hold) → audit → record. Adapters call
// `decide()` for each operation and enforce the Verdict in their own protocol.
import { performance } from 'node:perf_hooks';
import { normalizeSql } from '../analysis/index.js';
import type { ConnectionConfig } from '../config/schema.js';
import { newId } from '../core/ids.js';
import type { ConnectionRef, Decision, Identity, Operation, Reason, SqlKind } from '../core/types.js';
import { compileMasker, type Masker } from '../masking/index.js';
import type { SessionRecording } from '../recording/index.js';
import type { Gateway } from './gateway.js';
import { buildOperation, type OperationInput } from './operation.js';
import { operationEntryData } from './operation-entry.js';
import { sessionGuardProblem } from './session-guard.js';
import {
  PendingAudit,
  type Refusal,
  refusalMessage,
  type Verdict,
  type VerdictObserver,
  type VerdictReport,
  winningReason,
} from './verdict.js';

/** What an adapter reports after an operation ran (already masked). */
export interface OperationResult {
  command?: string;
  columns?: readonly string[];
  rows?: unknown[][];
  /** True number of rows, even when `rows` was capped. */
  rowCount?: number;
  error?: string;
  output?: string;
  status?: number;
  /** Command results (SSH): stderr as the client got it, a terminating signal, bytes sent, capped output. */
  stderr?: string;
  signal?: string;
  bytes?: number;
  truncated?: boolean;
}

export type SessionProtocol = ConnectionRef['type'] | 'mcp' | 'api';

export interface DecideOptions {
  /** Ends a review hold early (client cancel or disconnect). */
  signal?: AbortSignal;
  /**
   * The caller honours `Verdict.audit` (holds the response until the entry is committed and ends
   * the session if it fails), so read-only statements need not wait for the commit.
   */
  pipelineAudit?: boolean;
}

export class GatewaySession {
  readonly id: string;
  readonly startedAt: number;
  closed = false;
  private operations = 0;
  private masker: Masker | null = null;
  private decideTimer: { observe(seconds: number): void } | undefined;
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
    private readonly onVerdict?: VerdictObserver,
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
  async decide(input: OperationInput, opts: DecideOptions = {}): Promise<Verdict> {
    return this.decideOrWait(input, opts);
  }

  /**
   * decide() without a promise when there is nothing to wait for: with `pipelineAudit`, a
   * read-only statement is answered synchronously (its audit entry commits while it runs), so
   * the adapter forwards it in the same turn. Everything else returns a promise, as decide().
   *
   * Audit order: the entry of an operation is committed before the operation is forwarded (fail
   * closed), except for pipelined read-only statements (see `auditMayTrail`): those run at the
   * target while the entry commits, and the adapter holds their response until it is committed;
   * if the write fails the adapter ends the session, so no response is ever returned unaudited.
   */
  decideOrWait(input: OperationInput, opts: DecideOptions = {}): Verdict | Promise<Verdict> {
    const started = performance.now();
    const op = this.buildOperation(input);
    const decision = this.evaluate(op);
    if (decision.effect === 'review') return this.reviewThenAudit(op, decision, opts.signal, started);
    if (opts.pipelineAudit === true && auditMayTrail(op, decision)) {
      let commit: Promise<unknown>;
      try {
        commit = this.appendAudit(op, decision, undefined);
      } catch (err) {
        commit = Promise.reject(err);
      }
      const audit = new PendingAudit(commit, (err) =>
        this.gw.logger.error({ err, session: this.id }, 'audit write failed after a pipelined read; ending session'),
      );
      return this.finish(op, decision, undefined, started, audit);
    }
    return this.auditThenFinish(op, decision, undefined, started);
  }

  private async reviewThenAudit(
    op: Operation,
    decision: Decision,
    signal: AbortSignal | undefined,
    started: number,
  ): Promise<Verdict> {
    let reviewId: string | undefined;
    try {
      const outcome = await this.handleReview(op, decision, signal);
      decision = outcome.decision;
      reviewId = outcome.reviewId;
    } catch (err) {
      this.gw.logger.error({ err, op: op.id }, 'review could not be created or checked; refusing operation');
      decision = failClosed(decision, 'the review could not be recorded');
    }
    return this.auditThenFinish(op, decision, reviewId, started);
  }

  private async auditThenFinish(
    op: Operation,
    decision: Decision,
    reviewId: string | undefined,
    started: number,
  ): Promise<Verdict> {
    try {
      await this.appendAudit(op, decision, reviewId);
    } catch (err) {
      this.gw.logger.error({ err, session: this.id }, 'audit write failed; refusing operation');
      decision = failClosed(decision, 'the audit record could not be written');
    }
    return this.finish(op, decision, reviewId, started, null);
  }

  private appendAudit(op: Operation, decision: Decision, reviewId: string | undefined): Promise<unknown> {
    const reasons = new Array<string>(decision.reasons.length);
    for (let i = 0; i < reasons.length; i++) reasons[i] = decision.reasons[i]!.code;
    const data = operationEntryData({
      op: op.id,
      kind: op.kind,
      text: auditText(op),
      effect: decision.effect,
      rules: decision.rules,
      reasons,
      review: reviewId,
      // The actor stays the `sub` (readable, and old rows hash as they were); its issuer is in data.
      issuer: this.identity.issuer,
    });
    return this.gw.audit.appendDurable({
      type: 'operation',
      actor: this.identity.sub,
      session: this.id,
      connection: this.connection.name,
      data,
    });
  }

  private finish(
    op: Operation,
    decision: Decision,
    reviewId: string | undefined,
    started: number,
    audit: PendingAudit | null,
  ): Verdict {
    const effect = decision.effect;
    const refused = effect === 'block' || effect === 'review';
    let terminate = false;
    let refusal: Refusal | null = null;
    let masker: Masker | null = null;
    if (refused) {
      for (const r of decision.reasons)
        if (r.code === 'identity-expired' || r.code === 'identity-revoked') terminate = true;
      const winner = winningReason(decision, (rule) => this.gw.ruleAction(rule));
      refusal = {
        kind: terminate
          ? 'identity'
          : effect === 'review'
            ? 'review'
            : winner?.code === 'policy-error'
              ? 'policy-error'
              : 'blocked',
        message: refusalMessage(decision, winner, reviewId),
      };
      if (reviewId && effect === 'review') refusal.reviewId = reviewId;
    } else if (decision.masking) {
      masker = this.maskerFor(decision);
    }

    this.operations++;
    const event: Record<string, unknown> = {
      type: 'operation',
      op: op.id,
      kind: op.kind,
      text: (masker ?? this.textMasker)?.maskText(op.text) ?? op.text,
      effect,
      rules: decision.rules,
    };
    if (refusal) event.refusal = refusal.message;
    this.recording.event(event);
    this.gw.metrics.decisionCounter(effect, this.protocol, op.kind).inc();
    this.decideTimer ??= this.gw.metrics.decideTimer(this.protocol);
    this.decideTimer.observe((performance.now() - started) / 1000);
    if (this.onVerdict) this.onVerdict(verdictReport(op, decision, refusal, reviewId, terminate));
    return { op, decision, masker, refusal, terminate, audit };
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

  /** Expired or revoked: adapters check this at every execution, not only at decisions. */
  identityProblem(): Reason | null {
    return this.gw.identityProblem(this.identity);
  }

  private evaluate(op: Operation): Decision {
    const problem = this.gw.identityProblem(this.identity) ?? sessionGuardProblem(op, this.connectionConfig);
    if (problem) return { effect: 'block', rules: [], reasons: [problem], masking: null, review: null };
    try {
      return this.gw.policy.decide(op, { jitGrants: this.gw.approvals.activeGrants(this.identity) });
    } catch (err) {
      this.gw.logger.error({ err, op: op.id }, 'policy evaluation failed');
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
    const at = this.gw.clock.now();
    return buildOperation(input, {
      id: newId('op', at),
      session: this.id,
      connection: this.connection,
      identity: this.identity,
      at,
    });
  }
}

function verdictReport(
  op: Operation,
  decision: Decision,
  refusal: Refusal | null,
  reviewId: string | undefined,
  terminate: boolean,
): VerdictReport {
  const report: VerdictReport = {
    op: op.id,
    kind: op.kind,
    effect: decision.effect,
    rules: decision.rules,
    reasons: decision.reasons,
    terminate,
  };
  if (reviewId) report.reviewId = reviewId;
  if (refusal) report.message = refusal.message;
  if (decision.review) report.approvers = { groups: decision.review.groups, count: decision.review.count };
  return report;
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
  if (op.kind === 'sql') return op.resolved ? `${op.normalized} -- ${normalizeSql(op.resolved).text}` : op.normalized;
  return op.text.length > 2000 ? `${op.text.slice(0, 2000)}…` : op.text;
}

// Statements that cannot change anything, whose audit entry may commit while they run (see
// decideOrWait). Deliberately narrow: SELECT/SHOW only, nothing the analysis counts as a write,
// no settings, and only builtin functions without side effects. Residual risk, accepted and
// bounded by the session ending when the audit write fails: a view, cast, operator or RLS policy
// can call a user function, and `FOR UPDATE` takes row locks; such effects may happen before the
// entry is committed, never without it being attempted, and no result is returned unaudited.
const READ_ONLY_KINDS: ReadonlySet<SqlKind> = new Set<SqlKind>(['select', 'show']);
const PURE_FUNCTIONS: ReadonlySet<string> = new Set([
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'bool_and',
  'bool_or',
  'every',
  'stddev',
  'variance',
  'array_agg',
  'string_agg',
  'json_agg',
  'jsonb_agg',
  'lower',
  'upper',
  'length',
  'char_length',
  'octet_length',
  'coalesce',
  'nullif',
  'greatest',
  'least',
  'abs',
  'round',
  'floor',
  'ceil',
  'ceiling',
  'trunc',
  'mod',
  'trim',
  'btrim',
  'ltrim',
  'rtrim',
  'substr',
  'substring',
  'left',
  'right',
  'concat',
  'concat_ws',
  'replace',
  'position',
  'strpos',
  'now',
  'current_date',
  'current_timestamp',
  'date_trunc',
  'date_part',
  'extract',
  'to_char',
  'row_to_json',
  'to_json',
  'to_jsonb',
  'json_build_object',
  'jsonb_build_object',
]);

/**
 * HTTP methods whose request may reach the target while its audit entry commits: the safe ones
 * (RFC 9110 §9.2.1, read-only by definition), with no body. OPTIONS is safe too but left out: it
 * is rare on this path and CORS preflights are answered by application code.
 */
const TRAILING_AUDIT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

function auditMayTrail(op: Operation, decision: Decision): boolean {
  if (decision.effect !== 'allow' && decision.effect !== 'mask') return false;
  if (op.kind === 'http') return TRAILING_AUDIT_METHODS.has(op.http.method) && op.http.bodyBytes === 0;
  if (op.kind !== 'sql') return false;
  const f = op.sql;
  if (!f.parsed || f.writes || f.copyProgram || f.serverFile || f.settings.length > 0) return false;
  for (const k of f.kinds) if (!READ_ONLY_KINDS.has(k)) return false;
  for (const fn of f.functions) if (!PURE_FUNCTIONS.has(fn)) return false;
  return true;
}
