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
    // Nothing left queued in the stream: the write completed at once and released the slab's
    // bytes (a queued write keeps its views until it completes; TLS completes every write
    // asynchronously, so a TLS session's slabs are used up and replaced as before).
    else if (this.dest.writableLength === 0) this.recycle();
  }

  /** The relay ended: nothing more goes out through here. */
  close(): void {
    this.closed = true;
  }
}
