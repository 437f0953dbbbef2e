// Accept-side limits shared by every front door (PostgreSQL today; SSH, HTTP, MySQL later): a
// global cap on open client connections, a per-source cap on connections that have not
// authenticated yet, and one handshake deadline from accept until the client presents its
// credentials (TLS handshake included). Protocol-neutral: an adapter admits each accepted socket,
// speaks its own refusal, and reports when the credentials arrived and when they were verified.
import { isIPv6, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { LimitsConfig } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';

export interface AcceptLimits {
  maxConnections: number;
  unauthenticatedPerSource: number;
  handshakeTimeoutMs: number;
}

export type AdmitRefusal = {
  ok: false;
  reason: 'max-connections' | 'unauthenticated-per-source';
  /** Protocol-neutral text for the client ("too many connections …"). */
  message: string;
};

/** After the deadline fired, how long the adapter has to send its error before the socket is destroyed. */
const DEADLINE_GRACE_MS = 1000;

/** What a front door reports about one connection's handshake. */
export interface Admission {
  /** Aborted (with a HandshakeTimeout) when the handshake deadline passes. */
  readonly signal: AbortSignal;
  /** The client presented its credentials in time: the deadline stops. */
  handshakeDone(): void;
  /** The credentials were verified. */
  authenticated(): void;
}

/** In-process sessions (REST exec, MCP) are not accepted connections: nothing to count or time. */
export const IN_PROCESS_ADMISSION: Admission = {
  signal: new AbortController().signal,
  handshakeDone() {},
  authenticated() {},
};

/**
 * One admitted connection. Counted until its socket closes. `signal` aborts at the handshake
 * deadline; the adapter then sends its native error (if it can) and closes, and the socket is
 * destroyed shortly after regardless.
 */
export class CountedAdmission implements Admission {
  readonly ok = true;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private unauthenticated = true;
  private released = false;

  constructor(
    private readonly limiter: ConnectionLimiter,
    readonly source: string,
    socket: Socket,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.abort.abort(new HandshakeTimeout(timeoutMs));
      setTimeout(() => socket.destroy(), DEADLINE_GRACE_MS).unref();
    }, timeoutMs);
    this.timer.unref();
    socket.once('close', () => this.release());
  }

  /** Aborted (with a HandshakeTimeout) when the handshake deadline passes. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** The client presented its credentials in time: the deadline stops. */
  handshakeDone(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The credentials were verified: the connection leaves its source's unauthenticated count. */
  authenticated(): void {
    this.handshakeDone();
    if (!this.unauthenticated) return;
    this.unauthenticated = false;
    if (!this.released) this.limiter.leaveUnauthenticated(this.source);
  }

  /** Called when the socket closes (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.handshakeDone();
    if (this.unauthenticated) this.limiter.leaveUnauthenticated(this.source);
    this.limiter.leave();
  }
}

export class HandshakeTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`handshake not completed within ${timeoutMs} ms`);
    this.name = 'HandshakeTimeout';
  }
}

export class ConnectionLimiter {
  private open = 0;
  private readonly unauthenticated = new Map<string, number>();

  constructor(readonly limits: AcceptLimits) {}

  static fromConfig(limits: LimitsConfig): ConnectionLimiter {
    return new ConnectionLimiter({
      maxConnections: limits.maxConnections,
      unauthenticatedPerSource: limits.unauthenticatedPerSource,
      handshakeTimeoutMs: parseDuration(limits.handshakeTimeout),
    });
  }

  /** Open client connections (all front doors sharing this limiter). */
  get connections(): number {
    return this.open;
  }

  /** Connections from `address`'s source that have not authenticated yet. */
  unauthenticatedFrom(address: string | undefined): number {
    return this.unauthenticated.get(sourceKey(address)) ?? 0;
  }

  /** Count an accepted socket and arm its handshake deadline, or say why it must be refused now. */
  admit(socket: Socket): CountedAdmission | AdmitRefusal {
    const { maxConnections, unauthenticatedPerSource, handshakeTimeoutMs } = this.limits;
    if (this.open >= maxConnections) {
      return {
        ok: false,
        reason: 'max-connections',
        message: `too many connections: the gateway holds ${maxConnections} (limits.maxConnections)`,
      };
    }
    const source = sourceKey(socket.remoteAddress);
    const pending = this.unauthenticated.get(source) ?? 0;
    if (pending >= unauthenticatedPerSource) {
      return {
        ok: false,
        reason: 'unauthenticated-per-source',
        message: `too many connections from ${source} that have not authenticated yet (limits.unauthenticatedPerSource = ${unauthenticatedPerSource})`,
      };
    }
    this.open++;
    this.unauthenticated.set(source, pending + 1);
    return new CountedAdmission(this, source, socket, handshakeTimeoutMs);
  }

  /** @internal */
  leaveUnauthenticated(source: string): void {
    const n = (this.unauthenticated.get(source) ?? 1) - 1;
    if (n <= 0) this.unauthenticated.delete(source);
    else this.unauthenticated.set(source, n);
  }

  /** @internal */
  leave(): void {
    if (this.open > 0) this.open--;
  }
}

/**
 * The key a source is counted under: the IPv4 address (IPv4-mapped IPv6 folded to it), or the
 * /64 prefix of an IPv6 address, since one host usually holds a whole /64.
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::', 2);
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

/** Shared per owner (a Gateway): every front door of one gateway counts against the same limits. */
const shared = new WeakMap<object, ConnectionLimiter>();

export function limiterFor(owner: object, limits: LimitsConfig): ConnectionLimiter {
  let l = shared.get(owner);
  if (!l) {
    l = ConnectionLimiter.fromConfig(limits);
    shared.set(owner, l);
  }
  return l;
}

/** Bytes read (and dropped) from a closing socket; past them reading stops until the socket is cut. */
const LINGER_BYTES = 64 * 1024;
const LINGER_MS = 1000;

/**
 * Send a last message and close, reading (and dropping) what the client still sends for a
 * moment: closing with unread bytes makes the kernel send a reset, which can discard the
 * message before the client reads it. Bounded in time and bytes, never buffered: past
 * LINGER_BYTES the socket is paused (the client's sends stall in the kernel) until it is cut.
 */
export function closeWith(socket: Duplex, farewell?: Buffer | null): void {
  if (socket.destroyed) return;
  let dropped = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.removeAllListeners('data');
  socket.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) socket.pause();
  });
  socket.on('error', () => {});
  if (farewell) socket.end(farewell);
  else socket.end();
  socket.resume();
}
