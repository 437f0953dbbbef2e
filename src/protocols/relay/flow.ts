import type { Duplex } from 'node:stream';

/** Pause a stream while any reason holds (backpressure, an awaited decision…), resume when none do. */
export class Flow {
  private reasons = 0;
  constructor(readonly stream: Duplex) {}

  pause(reason: number): void {
    if (this.reasons === 0) this.stream.pause();
    this.reasons |= reason;
  }

  resume(reason: number): void {
    if (!(this.reasons & reason)) return;
    this.reasons &= ~reason;
    if (this.reasons === 0) this.stream.resume();
  }
}

export const PAUSE_BACKPRESSURE = 1;
export const PAUSE_DECIDING = 2;
/** Bytes read but not yet handled passed a limit (the pump is waiting, e.g. for an audit commit). */
export const PAUSE_READ_AHEAD = 4;
