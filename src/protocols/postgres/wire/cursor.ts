// Bounds-checked field reader over one message payload. Parsers are synchronous, so one module-level
// instance is reused (as pg-protocol's BufferReader is): no allocation per message.
import { ProtocolError } from './errors.js';

export class PayloadCursor {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;

  /** Point at a payload; returns this for chaining. */
  at(buf: Buffer, start: number, length: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = start + length;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    const p = this.pos;
    if (n < 0 || p + n > this.end) throw new ProtocolError('malformed-message', 'message payload is truncated');
    this.pos = p + n;
    return p;
  }

  byte(): number {
    return this.buf[this.need(1)]!;
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  /** A NUL-terminated string (UTF-8), NUL consumed. */
  cstring(): string {
    const nul = this.cstringEnd();
    const s = this.buf.toString('utf8', this.pos, nul);
    this.pos = nul + 1;
    return s;
  }

  /** Index of the NUL ending the string at the cursor, within the payload. */
  cstringEnd(): number {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw new ProtocolError('malformed-message', 'string is not NUL-terminated');
    return nul;
  }

  /** A view of the next n bytes (no copy). */
  bytes(n: number): Buffer {
    const p = this.need(n);
    return this.buf.subarray(p, p + n);
  }

  /** A view of everything left. */
  rest(): Buffer {
    const p = this.pos;
    this.pos = this.end;
    return this.buf.subarray(p, this.end);
  }

  /** Fail unless the payload was consumed exactly. */
  done(): void {
    if (this.pos !== this.end) throw new ProtocolError('malformed-message', 'message has trailing bytes');
  }
}

export const cursor = new PayloadCursor();
