// One direction of a relay: bytes from a stream are framed by a reader and handled one message
// at a time, strictly in order. A message whose handling must wait (a decision, a catalog lookup)
// pauses the stream until it is done; a hold before a message (e.g. an audit commit) does not
// pause it, but more than the read-ahead limit of unread bytes does. Protocol-neutral: what a
// message means is the subclass's; nothing per message is allocated here.
import { type Flow, PAUSE_DECIDING, PAUSE_READ_AHEAD } from './flow.js';

/** A framing reader: `push` bytes, then `next()` makes each whole message current in turn. */
export interface FrameReader {
  push(chunk: Buffer): void;
  next(): boolean;
  /** Bytes received but not yet returned as messages. */
  readonly pending: number;
}

export abstract class Pump<R extends FrameReader> {
  private busy = false;
  private stopped = false;

  constructor(
    protected readonly reader: R,
    /** The source stream's flow (paused while a message is waited on). */
    readonly flow: Flow,
    /** Unread bytes allowed to pile up while the pump waits before the source is paused. */
    private readonly readAheadLimit = Number.POSITIVE_INFINITY,
  ) {}

  /** Read from the source from now on. */
  attach(): void {
    this.flow.stream.on('data', (chunk: Buffer) => this.feed(chunk));
  }

  /** No message is handled after this (the relay ended). */
  stop(): void {
    this.stopped = true;
  }

  /** Handle the current message; a promise when the next must wait until it settles. */
  protected abstract handle(message: R): Promise<void> | undefined;
  /** Before handling the current message: a promise to wait for first (asked again once it settles). */
  protected hold(): Promise<unknown> | undefined {
    return undefined;
  }
  /** After each message. */
  protected handled(): void {}
  /** No whole message is buffered: a look at the start of the next one (e.g. refuse it early). */
  protected incomplete(_reader: R): void {}
  /** Send what handling produced: before any wait, and at the end of each turn. */
  protected abstract flush(): void;
  /** The reader refused the bytes pushed to it. */
  protected abstract malformed(err: unknown): void;
  /** Handling a message threw (or what it waited for rejected). */
  protected abstract failed(err: unknown): void;

  feed(chunk: Buffer): void {
    const reader = this.reader;
    try {
      reader.push(chunk);
    } catch (err) {
      this.malformed(err);
      return;
    }
    // The pump is waiting: keep what is buffered bounded.
    if (this.busy && reader.pending > this.readAheadLimit) this.flow.pause(PAUSE_READ_AHEAD);
    void this.run();
  }

  async run(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const reader = this.reader;
      while (!this.stopped) {
        if (!reader.next()) {
          this.incomplete(reader);
          break;
        }
        let hold = this.hold();
        while (hold !== undefined) {
          this.flush();
          await hold;
          if (this.stopped) break;
          hold = this.hold();
        }
        if (this.stopped) break;
        const wait = this.handle(reader);
        if (wait) {
          this.flush();
          this.flow.pause(PAUSE_DECIDING);
          await wait;
          this.flow.resume(PAUSE_DECIDING);
        }
        this.handled();
      }
      this.flush();
    } catch (err) {
      this.failed(err);
    } finally {
      this.busy = false;
      this.flow.resume(PAUSE_READ_AHEAD);
    }
  }
}
