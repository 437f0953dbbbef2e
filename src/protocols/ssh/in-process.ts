// The SSH engine's in-process door (REST `exec`, MCP `run_command`): the caller gets one end of an
// in-memory stream and speaks real SSH over it (an ssh2 Client with `sock`); the other end is
// served by the same front door as a socket from the listener (./engine.ts), except that the
// identity is the one the API already verified, so the SSH login accepts any method for this
// stream only. Every exec then goes through the one exec path (./exec.ts): decided, masked,
// recorded and audited exactly as for `ssh`, with each Verdict reported as data.
//
// Why not node:stream's duplexPair: its write() pushes into the other side synchronously, so
// ssh2 on one side parses (and answers) a packet while the other side is still inside its own
// write; ssh2's key exchange then sees NEWKEYS before KEXDH_INIT and fails ("Received packet 21
// instead of 30"). Here each write reaches the other side on a later turn of the event loop.
import { Duplex } from 'node:stream';
import { WardenError } from '../../core/errors.js';
import type { EngineHost, InProcessRequest } from '../engine.js';
import type { Admission } from '../limits.js';

/** Bytes one side buffers before its writer waits (like a socket's receive buffer). */
const HIGH_WATER = 256 * 1024;

class DeferredSide extends Duplex {
  other!: DeferredSide;
  /** A write waiting for this side's reader to take more (backpressure). */
  private waiting: (() => void) | null = null;

  constructor() {
    super({ allowHalfOpen: false, readableHighWaterMark: HIGH_WATER, writableHighWaterMark: HIGH_WATER });
  }

  override _read(): void {
    const go = this.waiting;
    this.waiting = null;
    go?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    setImmediate(() => {
      if (this.other.destroyed) return done();
      if (this.other.push(chunk)) done();
      else this.other.waiting = () => done();
    });
  }

  override _final(done: (err?: Error | null) => void): void {
    setImmediate(() => {
      if (!this.other.destroyed) this.other.push(null);
      done();
    });
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // As when a TCP peer goes away: the other end ends too, once it has read what was sent.
    setImmediate(() => {
      if (!this.other.destroyed) {
        this.other.push(null);
        this.other.end();
      }
    });
    const go = this.waiting;
    this.waiting = null;
    go?.();
    done(err);
  }
}

/** Two connected ends; what one writes the other reads, on a later turn. */
export function deferredPair(): [Duplex, Duplex] {
  const a = new DeferredSide();
  const b = new DeferredSide();
  a.other = b;
  b.other = a;
  return [a, b];
}

/**
 * Serves `req` in-process: `serve` gets the server end (a pre-authenticated client connection of
 * the front door); the caller gets the client end. A connection that is not an SSH target is
 * refused here (through `onRefused`), before any SSH is spoken.
 */
export function sshInProcess(
  host: EngineHost,
  req: InProcessRequest,
  serve: (stream: Duplex, admission: Admission) => Promise<void>,
): Duplex {
  const [client, server] = deferredPair();
  const conf = host.connection(req.connection);
  if (conf && conf.type !== 'ssh') {
    req.onRefused?.(
      new WardenError('WARDEN_CONNECTION_UNKNOWN', `connection '${req.connection}' is not an SSH target`),
    );
    server.destroy();
    return client;
  }
  serve(server, inProcessAdmission()).catch((err: unknown) => {
    host.logger.warn({ err, connection: req.connection }, 'in-process ssh session failed');
    server.destroy();
  });
  return client;
}

/**
 * Nothing to count or time (not an accepted socket), but one signal per stream: the front door
 * listens on it for the connection's life, so a shared one would collect a listener per exec.
 */
function inProcessAdmission(): Admission {
  return { signal: new AbortController().signal, handshakeDone() {}, authenticated() {} };
}
