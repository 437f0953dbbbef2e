// Frames on their way to one stream: collected during a pump turn (an OutBuffer, so small frames
// are coalesced) and written together on flush. When the stream asks to wait, the stream that
// feeds it is paused until 'drain', so a slow reader holds back its writer instead of making the
// gateway buffer without bound.
import type { Duplex } from 'node:stream';
import { type Flow, PAUSE_BACKPRESSURE } from './flow.js';
import { OutBuffer } from './out-buffer.js';
import { writeAll } from './write-all.js';

export class Outbound extends OutBuffer {
  private closed = false;

  /** `feeder`: the flow of the stream whose messages end up here. */
  constructor(
    private readonly dest: Duplex,
    private readonly feeder: Flow,
  ) {
    super();
    dest.on('drain', () => feeder.resume(PAUSE_BACKPRESSURE));
  }

  /** Write what was pushed since the last flush (nothing once closed). */
  flush(): void {
    if (this.empty || this.closed) return;
    if (!writeAll(this.dest, this.take())) this.feeder.pause(PAUSE_BACKPRESSURE);
  }

  /** Nothing queued in the stream: every write completed and let go of its views of the slab. */
  protected override released(): boolean {
    return this.dest.writableLength === 0;
  }

  /** The relay ended: nothing more goes out through here. */
  close(): void {
    this.closed = true;
  }
}
