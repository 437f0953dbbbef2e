// Asking the core about a statement before anything of it is forwarded. A pipelined read-only
// statement is decided at once (its answer is then held until its audit entry is committed, see
// reply-queue.ts); anything else is a promise the client pump waits on, possibly a review hold
// that a CancelRequest ends. An EXECUTE is decided with the server's named statements as they
// are, so it first waits until every pending change of names is confirmed.
import type { GatewaySession, Verdict } from '../../gateway/index.js';
import type { ProxyLink } from './link.js';
import { SQLSTATE_AUTH } from './sqlstate.js';
import { writeFlush } from './wire/index.js';

const EXECUTE_WORD = /execute/i;

export class Decisions {
  /** Ends a review hold; made when first needed, replaced once used. */
  private holdAbort: AbortController | null = null;
  /** Decisions in progress (a CancelRequest only aborts a hold while one is). */
  private deciding = 0;
  /** Client-side waits for the server to confirm pending name changes. */
  private settleWaiters: (() => void)[] = [];
  private readonly session: GatewaySession;

  constructor(private readonly link: ProxyLink) {
    this.session = link.session;
  }

  /**
   * The core's verdict: at once for a pipelined read-only statement, else a promise. null when
   * the session ended.
   */
  decide(text: string): Verdict | null | Promise<Verdict | null> {
    const names = this.link.names;
    const executes = mayExecute(text);
    if (executes && !names.settled) return this.settle().then(() => this.decide(text));
    this.holdAbort ??= new AbortController();
    const input = executes
      ? { kind: 'sql' as const, text, prepared: names.preparedTexts() }
      : { kind: 'sql' as const, text };
    const v = this.session.decideOrWait(input, { signal: this.holdAbort.signal, pipelineAudit: true });
    if (!(v instanceof Promise)) return this.decided(v);
    this.deciding++;
    return v.then(
      (verdict) => {
        this.deciding--;
        return this.decided(verdict);
      },
      (err: unknown) => {
        this.deciding--;
        throw err;
      },
    );
  }

  /**
   * An execution whose identity lapsed since its statement was decided: decided again, so the
   * refusal is an audited operation like any other, and the session ends.
   */
  redecideLapsed(text: string): Promise<void> | undefined {
    const v = this.decide(text);
    return v instanceof Promise ? v.then(() => undefined) : undefined;
  }

  /** Wait until the server has confirmed every pending change of names. */
  settle(): Promise<void> {
    const link = this.link;
    if (link.names.settled) return Promise.resolve();
    // Responses to extended-protocol messages are buffered by the server until Sync or Flush.
    link.toServer.push(writeFlush(link.w).flush());
    link.toServer.flush();
    link.toClient.flush();
    return new Promise((resolve) => this.settleWaiters.push(resolve));
  }

  /** Release the settle waits once names are settled (or the session ended). */
  wakeSettled(): void {
    if (this.settleWaiters.length === 0 || (!this.link.names.settled && !this.link.closed)) return;
    const waiters = this.settleWaiters;
    this.settleWaiters = [];
    for (const w of waiters) w();
  }

  /** CancelRequest: ends a review hold, if a decision is waiting on one. */
  cancelHold(): void {
    if (this.deciding > 0) this.abortHold();
  }

  abortHold(): void {
    const c = this.holdAbort;
    this.holdAbort = null;
    c?.abort();
  }

  private decided(verdict: Verdict): Verdict | null {
    if (verdict.terminate) {
      this.link.terminateWith(SQLSTATE_AUTH, verdict.refusal?.message ?? 'session ended');
      return null;
    }
    return verdict;
  }
}

/** Cheap pre-check: only a text that mentions EXECUTE can run a named statement. */
function mayExecute(text: string): boolean {
  return EXECUTE_WORD.test(text);
}
