// What the client is owed, in the order it asked for it. Every message forwarded to the server
// that the server answers is expected here (see pending.ts) and the server's messages are matched
// against the head. The gateway's own refusals queue behind the answers still due, so they reach
// the client in stream order; and a pipelined read's answer waits at the head until its audit
// entry is committed, so nothing is returned unaudited.
import type { PendingAudit, Verdict } from '../../gateway/index.js';
import type { OutBuffer } from '../relay/index.js';
import { type Pending, PendingQueue } from './pending.js';
import { SQLSTATE_REFUSED } from './sqlstate.js';
import type { SessionNames } from './statements.js';
import { type MessageWriter, type TransactionStatus, writeErrorResponse, writeReadyForQuery } from './wire/index.js';

export class ReplyQueue {
  private readonly queue = new PendingQueue();
  /** The server's last transaction status, which the gateway's own ReadyForQuery repeats. */
  txStatus: TransactionStatus = 'I';
  /** Extended protocol: after a refusal, client messages are skipped until Sync (as the server does). */
  discarding = false;

  constructor(
    private readonly w: MessageWriter,
    private readonly toClient: OutBuffer,
  ) {}

  get size(): number {
    return this.queue.size;
  }

  /** The oldest answer still due. */
  get head(): Pending | undefined {
    return this.queue.peek();
  }

  /** A message went to the server: its answer is due after those already expected. */
  expect(p: Pending): void {
    this.queue.push(p);
  }

  /** The head is answered: pop it, and send the gateway refusals that are now next in line. */
  answered(): void {
    const queue = this.queue;
    queue.shift();
    let next = queue.peek();
    while (next?.t === 'synthetic') {
      queue.shift();
      for (const f of next.frames) this.toClient.push(f);
      if (next.readyForQuery) this.toClient.push(writeReadyForQuery(this.w, this.txStatus).flush());
      next = queue.peek();
    }
  }

  /**
   * An ErrorResponse (and, for the simple protocol, ReadyForQuery) in stream order: now when no
   * answer is due, else after the due ones. In the extended protocol the rest until Sync is skipped.
   */
  refuse(message: string, readyForQuery: boolean, reviewId?: string, sqlstate = SQLSTATE_REFUSED): void {
    const frame = writeErrorResponse(this.w, {
      severity: 'ERROR',
      code: sqlstate,
      message,
      ...(reviewId
        ? { hint: `an approver runs: warden reviews approve ${reviewId}`, extra: { W: `warden review ${reviewId}` } }
        : {}),
    }).flush();
    if (this.queue.size === 0) {
      this.toClient.push(frame);
      if (readyForQuery) this.toClient.push(writeReadyForQuery(this.w, this.txStatus).flush());
    } else {
      this.queue.push({ t: 'synthetic', frames: [frame], readyForQuery });
    }
    if (!readyForQuery) this.discarding = true;
  }

  refuseVerdict(verdict: Verdict, readyForQuery: boolean): void {
    const r = verdict.refusal!;
    this.refuse(r.message, readyForQuery, r.reviewId);
  }

  /**
   * Whether the head's answer may go out: true now, false never (its audit entry could not be
   * written), or a promise to wait on first (its audit entry is being committed).
   */
  auditHold(): boolean | Promise<boolean> {
    const head = this.queue.peek();
    const gate = head?.gate;
    if (gate === undefined) return true;
    if (gate.state === undefined) return gate.settled;
    if (gate.state === false) return false;
    head!.gate = undefined;
    return true;
  }

  /**
   * The server refused an extended-protocol message and now skips to Sync: the answers due until
   * then (and the refusals queued among them) are dropped; what they would have created never was.
   */
  skipToSync(names: SessionNames): void {
    const queue = this.queue;
    while (queue.size > 0 && queue.peek()!.t !== 'sync') names.finished(queue.shift()!, false);
  }

  clear(): void {
    this.queue.clear();
  }
}

/** The pending audit an answer must wait for, when it is not committed yet. */
export function gateOf(verdict: Verdict): PendingAudit | undefined {
  const a = verdict.audit;
  return a !== null && a.state !== true ? a : undefined;
}
