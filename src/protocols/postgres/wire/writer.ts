// Message serialization, in the data path of every query: hand-written for speed (after
// pg-protocol's BufferWriter). One reusable writer reserves each header and back-patches the
// length when the message ends; several messages can be batched into one `flush()`.
//
// Slab rule: `flush()` returns a view of the bytes written since the last flush and never writes
// over them again (later messages go after them, or into a fresh slab). So a flushed Buffer can
// be given to `socket.write` without copying and stays intact while the socket holds it.

const DEFAULT_SLAB = 16 * 1024;
/** No slab yet: the first message allocates one (an idle session's writer holds nothing). */
const EMPTY = Buffer.alloc(0);

export class MessageWriter {
  private buf: Buffer;
  /** Start of unflushed bytes. */
  private base = 0;
  private off = 0;
  /** Offset of the current message's length field, -1 when none is open. */
  private lengthAt = -1;
  private readonly slabSize: number;

  constructor(slabSize = DEFAULT_SLAB) {
    this.slabSize = slabSize;
    this.buf = EMPTY;
  }

  /** Bytes written and not yet flushed. */
  get size(): number {
    return this.off - this.base;
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const used = this.off - this.base;
    const next = Buffer.allocUnsafe(Math.max(this.slabSize, (used + n) * 2));
    this.buf.copy(next, 0, this.base, this.off);
    if (this.lengthAt >= 0) this.lengthAt -= this.base;
    this.buf = next;
    this.base = 0;
    this.off = used;
  }

  /** Begin a typed message: type byte plus a reserved length. */
  begin(code: number): this {
    if (this.lengthAt >= 0) throw new TypeError('MessageWriter: previous message not ended');
    this.ensure(5);
    this.buf[this.off] = code;
    this.lengthAt = this.off + 1;
    this.off += 5;
    return this;
  }

  /** Begin a startup-phase packet (no type byte): only the length is reserved. */
  beginUntyped(): this {
    if (this.lengthAt >= 0) throw new TypeError('MessageWriter: previous message not ended');
    this.ensure(4);
    this.lengthAt = this.off;
    this.off += 4;
    return this;
  }

  /** Back-patch the length of the open message (it counts itself, not the type byte). */
  end(): this {
    if (this.lengthAt < 0) throw new TypeError('MessageWriter: no message begun');
    this.buf.writeInt32BE(this.off - this.lengthAt, this.lengthAt);
    this.lengthAt = -1;
    return this;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.off++] = v;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.off);
    this.off += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.off);
    this.off += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.off);
    this.off += 4;
    return this;
  }

  /** UTF-8 text followed by NUL. */
  cstring(s: string): this {
    this.string(s);
    return this.byte(0);
  }

  /** UTF-8 text, no terminator. */
  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n);
    this.buf.write(s, this.off, n, 'utf8');
    this.off += n;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.off);
    this.off += b.length;
    return this;
  }

  /** Raw range of another buffer (e.g. an unchanged cell). */
  range(src: Buffer, start: number, end: number): this {
    const n = end - start;
    this.ensure(n);
    src.copy(this.buf, this.off, start, end);
    this.off += n;
    return this;
  }

  /** Everything written since the last flush, as a view that is never overwritten afterwards. */
  flush(): Buffer {
    if (this.lengthAt >= 0) throw new TypeError('MessageWriter: flush inside an open message');
    const out = this.buf.subarray(this.base, this.off);
    this.base = this.off;
    // A nearly full slab is retired now rather than at the next message's growth; the next
    // message allocates its successor.
    if (this.buf.length - this.off < 256) {
      this.buf = EMPTY;
      this.base = 0;
      this.off = 0;
    }
    return out;
  }
}
