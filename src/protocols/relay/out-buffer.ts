// What one pump turn sends to a socket, coalesced: small frames (a result's DataRows) are copied
// into a pooled slab and go out as one Buffer per flush rather than one socket write each (a
// write costs far more than copying a 100-byte row). Masked rows are built straight into the slab.
//
// Slab rule (as MessageWriter's): bytes handed out by take() are never written over again while
// the socket may hold them; later frames go after them or into a fresh slab. When the first frame
// after a take finds that the destination has written everything it was given (`released`: a
// plain TCP write usually completes at once, a TLS write by the next turn), the slab is filled
// from its start again, so a steady session reuses one slab instead of allocating (and leaving
// garbage for the GC) every 64 KB of output.
//
// Memory: no slab until the first frame (an idle connection holds none), and slabs sized to the
// traffic's rate: a slab used up within BUSY_MS is followed by a large one (a busy session
// allocates as rarely as with large slabs only), one that lasted longer by a small one (a quiet
// session's slabs are a few KB; one that goes quiet right after a burst keeps its last large slab
// until that is used up). Decided once per slab, off the per-message path.

const MIN_SLAB = 4 * 1024;
const MAX_SLAB = 64 * 1024;
const BUSY_MS = 1000;
/** Larger frames are queued as they are (no copy). */
const COPY_LIMIT = 8 * 1024;
const EMPTY = Buffer.alloc(0);

export class OutBuffer {
  /** The slab being filled; `buf[mark, off)` is written and not yet taken. */
  buf: Buffer = EMPTY;
  off = 0;
  private mark = 0;
  private parts: Buffer[] = [];
  /** When the current slab was allocated (Date.now()). */
  private slabSince = 0;

  get empty(): boolean {
    return this.off === this.mark && this.parts.length === 0;
  }

  push(frame: Buffer): void {
    const n = frame.length;
    if (n > COPY_LIMIT) {
      this.cut();
      this.parts.push(frame);
      return;
    }
    if (this.off === this.mark) this.reuse();
    if (this.off + n > this.buf.length) this.renew(this.off, n);
    const dst = this.buf;
    const o = this.off;
    // Short frames byte by byte: cheaper than Buffer#copy's argument checks.
    if (n <= 64) for (let i = 0; i < n; i++) dst[o + i] = frame[i]!;
    else frame.copy(dst, o);
    this.off = o + n;
  }

  /** push(src.subarray(start, end)) without making the view (a relayed frame, straight from the reader's buffer). */
  pushFrom(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n > COPY_LIMIT) {
      this.cut();
      this.parts.push(src.subarray(start, end));
      return;
    }
    if (this.off === this.mark) this.reuse();
    if (this.off + n > this.buf.length) this.renew(this.off, n);
    const dst = this.buf;
    const o = this.off;
    if (n <= 64) for (let i = 0; i < n; i++) dst[o + i] = src[start + i]!;
    else src.copy(dst, o, start, end);
    this.off = o + n;
  }

  /**
   * Room for `n` more bytes after `off`. The bytes of `buf[from, off)` (a message being built)
   * move along into a new slab when the current one is too small; returns the shift applied to
   * offsets into it (0 when nothing moved).
   */
  ensure(from: number, n: number): number {
    let shift = 0;
    if (from === this.off && from === this.mark) {
      this.reuse();
      shift = this.off - from;
    }
    if (this.off + n <= this.buf.length) return shift;
    return shift + this.renew(from + shift, n);
  }

  /** Everything pushed since the last take, in order (empty array when nothing). */
  take(): Buffer[] {
    this.cut();
    const out = this.parts;
    this.parts = [];
    return out;
  }

  /**
   * Whether the destination has let go of every byte taken so far (written them all). Only then
   * may the slab be filled from its start again; a plain OutBuffer never knows, so never does.
   */
  protected released(): boolean {
    return false;
  }

  /** At the first frame since everything was taken: start the slab over when it is released. */
  private reuse(): void {
    if (this.off !== 0 && this.parts.length === 0 && this.released()) {
      this.mark = 0;
      this.off = 0;
    }
  }

  private cut(): void {
    if (this.off > this.mark) this.parts.push(this.buf.subarray(this.mark, this.off));
    this.mark = this.off;
  }

  /** Start a new slab, carrying `buf[from, off)` along; returns how far those bytes moved. */
  private renew(from: number, n: number): number {
    const carried = this.off - from;
    if (from > this.mark) this.parts.push(this.buf.subarray(this.mark, from));
    const now = Date.now();
    const size = this.buf.length > 0 && now - this.slabSince < BUSY_MS ? MAX_SLAB : MIN_SLAB;
    this.slabSince = now;
    const next = Buffer.allocUnsafe(Math.max(size, (carried + n) * 2));
    this.buf.copy(next, 0, from, this.off);
    this.buf = next;
    this.mark = 0;
    this.off = carried;
    return -from;
  }
}
