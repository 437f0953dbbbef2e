// Framing for the PostgreSQL v3 protocol, in the data path of every query: hand-written for
// speed (modelled on node-postgres' pg-protocol parser). A cursor loop over pushed chunks that
// exposes each complete message as (code, start, length) into a buffer, without copying payloads.
//
// Memory rule: bytes once exposed are never overwritten. A chunk with no pending partial frame is
// used as-is (zero copy); a partial frame is copied into a reader-owned buffer that grows by
// doubling, and later chunks are appended only into its never-exposed spare capacity. So a
// message view (or a `frame()` subarray handed to `socket.write`) stays valid after later pushes.
import { StartupCode } from './codes.js';
import { ProtocolError } from './errors.js';

/** A complete message inside `buffer`: payload is `buffer[start, start + length)` (after the header). */
export interface WireMessage {
  /** Type byte; in startup phase the int32 request code (protocol version, SSLRequest, …). */
  readonly code: number;
  readonly start: number;
  readonly length: number;
  readonly buffer: Buffer;
}

export interface MessageReaderOptions {
  /** Largest accepted payload in bytes for typed messages. Default 64 MiB. */
  maxMessageSize?: number;
  /** Largest accepted startup-phase packet (including its length field). Default 10 KiB. */
  maxStartupSize?: number;
  /** Begin in startup phase (packets without a type byte). Default false. */
  startup?: boolean;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
export const DEFAULT_MAX_STARTUP_SIZE = 10 * 1024;
const MIN_OWNED_CAPACITY = 8 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Reusable framing cursor: `push(chunk)`, then `while (reader.next()) use(reader)`.
 * After `next()` returns true, the reader itself is the current `WireMessage`.
 * Never throws on an unknown code; throws `ProtocolError` on bad lengths (and stays failed).
 */
export class MessageReader implements WireMessage {
  code = 0;
  start = 0;
  length = 0;
  buffer: Buffer = EMPTY;
  /** Offset in `buffer` where the current message's header begins. */
  frameStart = 0;
  /** Startup phase: packets are `int32 length, int32 code, payload`. The caller switches it off. */
  startup: boolean;

  private readonly maxMessageSize: number;
  private readonly maxStartupSize: number;
  private buf: Buffer = EMPTY;
  private pos = 0;
  private end = 0;
  /** True when `buf` was allocated here, so `[end, buf.length)` is spare and never exposed. */
  private owned = false;
  private failure: ProtocolError | undefined;

  constructor(options: MessageReaderOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxStartupSize = options.maxStartupSize ?? DEFAULT_MAX_STARTUP_SIZE;
    this.startup = options.startup ?? false;
    if (!(this.maxMessageSize >= 0) || !(this.maxStartupSize >= 8)) throw new TypeError('invalid reader size limits');
  }

  /** Bytes received but not yet returned as messages. */
  get pending(): number {
    return this.end - this.pos;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.pos === this.end) {
      // Nothing pending: read straight from the caller's chunk.
      this.buf = chunk;
      this.pos = 0;
      this.end = n;
      this.owned = false;
      return;
    }
    if (this.owned && this.buf.length - this.end >= n) {
      chunk.copy(this.buf, this.end);
      this.end += n;
      return;
    }
    const pendingBytes = this.end - this.pos;
    const needed = pendingBytes + n;
    // Doubling, bounded by bytes actually received: a peer announcing a huge frame cannot make us
    // allocate more than twice what it really sent.
    const next = Buffer.allocUnsafe(Math.max(needed * 2, MIN_OWNED_CAPACITY));
    this.buf.copy(next, 0, this.pos, this.end);
    chunk.copy(next, pendingBytes);
    this.buf = next;
    this.pos = 0;
    this.end = needed;
    this.owned = true;
  }

  /** Advance to the next complete message. False when more bytes are needed. */
  next(): boolean {
    if (this.failure) throw this.failure;
    const avail = this.end - this.pos;
    if (avail === 0) {
      // Everything was handled: let go of the last chunk (or of a large owned buffer), so an
      // idle connection holds no read buffer. Views handed out keep their own reference.
      this.release();
      return false;
    }
    const buf = this.buf;
    const pos = this.pos;
    if (this.startup) {
      if (avail < 4) return false;
      const len = buf.readInt32BE(pos);
      if (len < 8) return this.fail('bad-length', `startup packet length ${len} is below 8`);
      if (len > this.maxStartupSize) {
        return this.fail('frame-too-large', `startup packet of ${len} bytes exceeds ${this.maxStartupSize}`);
      }
      if (avail < len) return false;
      this.code = buf.readInt32BE(pos + 4);
      this.frameStart = pos;
      this.start = pos + 4;
      this.length = len - 4;
      this.buffer = buf;
      this.pos = pos + len;
      return true;
    }
    if (avail < 5) return false;
    const len = buf.readInt32BE(pos + 1);
    if (len < 4) return this.fail('bad-length', `message length ${len} is below 4`);
    if (len - 4 > this.maxMessageSize) {
      return this.fail('frame-too-large', `message of ${len - 4} bytes exceeds ${this.maxMessageSize}`);
    }
    if (avail < len + 1) return false;
    this.code = buf[pos]!;
    this.frameStart = pos;
    this.start = pos + 5;
    this.length = len - 4;
    this.buffer = buf;
    this.pos = pos + len + 1;
    return true;
  }

  /**
   * Typed phase, when `next()` returned false: the type byte of the incomplete message waiting
   * (-1 when none), so a caller can refuse an unknown type before its body arrives.
   */
  peekCode(): number {
    return this.startup || this.end - this.pos < 1 ? -1 : this.buf[this.pos]!;
  }

  /** Typed phase: the announced payload length of the incomplete message waiting (-1 when unknown yet). */
  peekLength(): number {
    return this.startup || this.end - this.pos < 5 ? -1 : this.buf.readInt32BE(this.pos + 1) - 4;
  }

  /** Call `visit` for every complete message now buffered. */
  drain(visit: (message: WireMessage) => void): void {
    while (this.next()) visit(this);
  }

  /** The current message including its header, as a view (no copy) for forwarding. */
  frame(): Buffer {
    return this.buffer.subarray(this.frameStart, this.start + this.length);
  }

  /** Remove and return every pending byte (a view), e.g. to hand the stream to another reader. */
  takeRemaining(): Buffer {
    const rest = this.buf.subarray(this.pos, this.end);
    this.release();
    return rest;
  }

  private release(): void {
    this.buf = EMPTY;
    this.buffer = EMPTY;
    this.pos = 0;
    this.end = 0;
    this.owned = false;
  }

  private fail(code: 'bad-length' | 'frame-too-large', message: string): never {
    this.failure = new ProtocolError(code, message);
    throw this.failure;
  }
}

/** Whether a startup-phase code is one of the magic request codes rather than a protocol version. */
export function isSpecialStartupCode(code: number): boolean {
  return code === StartupCode.SSLRequest || code === StartupCode.GSSENCRequest || code === StartupCode.CancelRequest;
}
