// Waiting for a review decision: woken at once by a local decision (event), and by polling the
// store so a decision made on another gateway instance sharing the store releases it too.
import type { EventEmitter } from 'node:events';
import type { ReviewState } from '../store/index.js';

export interface WaitOptions {
  id: string;
  ms: number;
  signal?: AbortSignal | undefined;
  decisions: EventEmitter;
  /** Reads the current state from the store. */
  read: () => Promise<ReviewState>;
  pollMs: number;
  onPollError: (err: unknown) => void;
}

/** Resolves with the state once it leaves `pending`, or with the last known state at timeout / abort. */
export function waitForState(o: WaitOptions): Promise<ReviewState> {
  return new Promise<ReviewState>((resolve) => {
    let last: ReviewState = 'pending';
    let done = false;
    let pollTimer: NodeJS.Timeout | undefined;
    const finish = (state: ReviewState) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearTimeout(pollTimer);
      o.decisions.off(o.id, onDecision);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(state);
    };
    const onDecision = (state: ReviewState) => {
      if (state !== 'pending') finish(state);
    };
    const onAbort = () => finish(last);
    const poll = async () => {
      try {
        last = await o.read();
        if (last !== 'pending') return finish(last);
      } catch (err) {
        o.onPollError(err);
      }
      if (!done) pollTimer = setTimeout(poll, o.pollMs);
    };

    const deadline = setTimeout(() => finish(last), Math.max(0, o.ms));
    o.decisions.on(o.id, onDecision);
    if (o.signal?.aborted) return finish(last);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    void poll();
  });
}
