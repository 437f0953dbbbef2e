import type { Decision, Effect, Operation, Reason } from '../core/types.js';
import type { Masker } from '../masking/index.js';

/** Why an operation was refused, in words an adapter can put into its protocol's error. */
export type RefusalKind = 'blocked' | 'review' | 'identity' | 'policy-error';

export interface Refusal {
  kind: RefusalKind;
  /** One line, safe to show to the client (no secrets). */
  message: string;
  /** Review id when kind is 'review'. */
  reviewId?: string;
}

/** The core's answer for one operation: what the adapter must enforce. */
export interface Verdict {
  op: Operation;
  decision: Decision;
  /** Present when the response must be masked. */
  masker: Masker | null;
  /** Present when the operation must not reach the target. */
  refusal: Refusal | null;
  /** True when the session must end after the refusal is sent (token expired or revoked). */
  terminate: boolean;
  /**
   * Pipelined audit (only when the caller asked for it with `pipelineAudit`, and only for
   * read-only statements): the operation may be forwarded now, while its audit entry commits.
   * The adapter must hold every response to it until `audit.state` is true, and end the session
   * with a fatal error when it becomes false. Null: the entry is already committed.
   */
  audit: PendingAudit | null;
}

/** An audit entry being committed while its (read-only) operation runs at the target. */
export class PendingAudit {
  /** undefined while committing, true once committed, false when the write failed. */
  state: boolean | undefined = undefined;
  /** Resolves with `state` once it is known (never rejects). */
  readonly settled: Promise<boolean>;

  constructor(commit: Promise<unknown>, onFailure: (err: unknown) => void) {
    this.settled = commit.then(
      () => {
        this.state = true;
        return true;
      },
      (err: unknown) => {
        this.state = false;
        onFailure(err);
        return false;
      },
    );
  }
}

/** The reason that produced the decision's effect: a rule of that action, else the first. */
export function winningReason(
  decision: Decision,
  ruleEffect: (rule: string) => Effect | undefined,
): Reason | undefined {
  for (const r of decision.reasons) {
    const effect = r.effect ?? (r.rule ? ruleEffect(r.rule) : undefined);
    if (effect === decision.effect) return r;
  }
  return decision.reasons[0];
}

/** The one-line message every protocol shows for a refused operation. */
export function refusalMessage(decision: Decision, winner: Reason | undefined, reviewId?: string): string {
  if (decision.effect === 'review') {
    const why = winner?.rule ? ` (rule ${winner.rule}: ${winner.message})` : '';
    return `approval required: review ${reviewId ?? '?'}${why}; re-send the same operation once it is approved`;
  }
  if (!winner) return 'blocked: denied by policy';
  if (winner.code === 'no-access-grant') return `blocked: ${winner.message}`;
  if (winner.code === 'policy-error') return `blocked: policy error: ${winner.message}`;
  if (winner.code === 'session-guard') return `blocked: ${winner.message}`;
  if (winner.code === 'identity-expired' || winner.code === 'identity-revoked')
    return `session ended: ${winner.message}`;
  return `blocked by rule ${winner.rule ?? '?'}: ${winner.message}`;
}

/** A Verdict as data, for callers that report what was enforced (REST exec, MCP tools). */
export interface VerdictReport {
  /** Operation id (the audit entry's `data.op`). */
  op: string;
  kind: Operation['kind'];
  effect: Effect;
  rules: string[];
  reasons: Reason[];
  /** The review that refused it (effect review) or that approved it (allow/mask after approval). */
  reviewId?: string;
  /** The refusal message the client was sent. */
  message?: string;
  /** Who may approve, when a review is needed. */
  approvers?: { groups: string[]; count: number };
  /** The session ended with this refusal (identity expired or revoked). */
  terminate: boolean;
}

export type VerdictObserver = (report: VerdictReport) => void;
