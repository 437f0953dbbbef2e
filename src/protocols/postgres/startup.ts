// The client side of the handshake: SSLRequest/GSSENCRequest, CancelRequest, StartupMessage, and
// the cleartext password exchange that carries the identity token. Nothing a client sends before
// it is authenticated is buffered beyond PostgreSQL's own startup limit or the token limit: sizes
// are checked from the length header, before the body arrives.
import { TLSSocket } from 'node:tls';
import type { ClientStream, EngineHost } from '../engine.js';
import { HandshakeTimeout } from '../limits.js';
import { clientEncodingAccepted } from './pinned.js';
import {
  FrontendCode,
  MessageReader,
  MessageWriter,
  ProtocolError,
  parsePasswordMessage,
  parseStartupPacket,
  StartupCode,
  writeAuthenticationCleartextPassword,
  writeErrorResponse,
} from './wire/index.js';

type EngineContext = Pick<EngineHost, 'tls'>;

export type Handshake =
  | { kind: 'cancel'; pid: number; secret: number }
  | {
      kind: 'startup';
      socket: ClientStream;
      reader: MessageReader;
      /** Startup parameters; any `client_encoding` (already checked) is removed: the gateway pins UTF8. */
      params: Record<string, string>;
      token: string;
      tls: boolean;
    };

/** A refusal during the handshake, sent as a FATAL ErrorResponse. */
export class HandshakeError extends Error {
  /**
   * The socket that can carry the FATAL (the TLS socket once TLS is up), or null when none can
   * (mid TLS handshake): then the connection is just closed. Set by readHandshake.
   */
  replyOn: ClientStream | null = null;
  constructor(
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
  }
}

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH (the length field included). */
export const MAX_STARTUP_PACKET = 10_000;
/** The identity verifier refuses tokens over 16 KiB; the password message adds its NUL. */
export const MAX_TOKEN_BYTES = 16 * 1024;
const MAX_PASSWORD_PAYLOAD = MAX_TOKEN_BYTES + 1;

export interface HandshakeOptions {
  /** Aborts at the handshake deadline (see Admission in ../limits.ts). */
  signal?: AbortSignal;
  /** An in-memory stream from the gateway's own process (REST exec, MCP): no TLS needed. */
  inProcess?: boolean;
}

interface Expect {
  code: number;
  maxLength: number;
  what: string;
}

function timeoutError(signal: AbortSignal): HandshakeError {
  const ms = signal.reason instanceof HandshakeTimeout ? signal.reason.timeoutMs : undefined;
  return new HandshakeError(
    '08P01',
    `handshake timed out${ms === undefined ? '' : ` after ${ms} ms`} (limits.handshakeTimeout)`,
  );
}

/**
 * Read packets from `socket` into `reader` until one complete message is available. In the typed
 * phase, `expect` refuses another message type or an announced length over its limit as soon as
 * the 5-byte header is in, so a huge body is never accumulated.
 */
function nextMessage(
  socket: ClientStream,
  reader: MessageReader,
  signal: AbortSignal | undefined,
  expect?: Expect,
): Promise<void> {
  const check = (): boolean => {
    if (reader.next()) {
      if (expect && (reader.code !== expect.code || reader.length > expect.maxLength))
        throw refuse(reader.code, reader.length);
      return true;
    }
    if (expect) {
      const code = reader.peekCode();
      if (code !== -1 && code !== expect.code) throw refuse(code, -1);
      const length = reader.peekLength();
      if (length > expect.maxLength) throw refuse(code, length);
    }
    return false;
  };
  const refuse = (code: number, length: number): HandshakeError => {
    if (!expect) return new HandshakeError('08P01', 'unexpected message');
    if (code !== expect.code) return new HandshakeError('08P01', `expected a ${expect.what}`);
    return new HandshakeError(
      '08P01',
      `${expect.what} of ${length} bytes exceeds the limit of ${expect.maxLength} bytes`,
    );
  };
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(timeoutError(signal));
    try {
      if (check()) return resolve();
    } catch (err) {
      return reject(err);
    }
    const onData = (chunk: Buffer) => {
      try {
        reader.push(chunk);
        if (check()) finish();
      } catch (err) {
        finish(err as Error);
      }
    };
    const onEnd = () => finish(new HandshakeError('08006', 'client closed the connection during the handshake'));
    const onAbort = () => finish(timeoutError(signal as AbortSignal));
    const finish = (err?: Error) => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
    socket.resume();
  });
}

/** The server side of a TLS handshake, bounded by the handshake deadline. */
function acceptTls(socket: ClientStream, ctx: EngineContext, signal: AbortSignal | undefined): Promise<TLSSocket> {
  const secure = new TLSSocket(socket, { isServer: true, ...ctx.tls });
  secure.on('error', () => {});
  return new Promise<TLSSocket>((resolve, reject) => {
    const done = (err?: Error) => {
      signal?.removeEventListener('abort', onAbort);
      secure.off('secure', onSecure);
      secure.off('error', onError);
      secure.off('close', onClose);
      if (err) {
        secure.destroy();
        reject(err);
      } else resolve(secure);
    };
    const onSecure = () => done();
    const onError = () => done(new HandshakeError('08P01', 'TLS handshake failed'));
    const onClose = () => done(new HandshakeError('08006', 'client closed the connection during the TLS handshake'));
    const onAbort = () => done(timeoutError(signal as AbortSignal));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    secure.once('secure', onSecure);
    secure.once('error', onError);
    secure.once('close', onClose);
  });
}

export async function readHandshake(
  raw: ClientStream,
  ctx: EngineContext,
  opts: HandshakeOptions = {},
): Promise<Handshake> {
  // The socket a refusal can be written on; null while a TLS handshake is under way.
  const state: { socket: ClientStream | null } = { socket: raw };
  try {
    return await handshake(raw, ctx, opts, state);
  } catch (err) {
    const e = handshakeErrorFrom(err);
    e.replyOn = state.socket;
    throw e;
  }
}

async function handshake(
  raw: ClientStream,
  ctx: EngineContext,
  opts: HandshakeOptions,
  state: { socket: ClientStream | null },
): Promise<Handshake> {
  const signal = opts.signal;
  let socket: ClientStream = raw;
  let tls = false;
  let reader = new MessageReader({ startup: true, maxStartupSize: MAX_STARTUP_PACKET });
  const w = new MessageWriter(256);
  for (let round = 0; round < 3; round++) {
    await nextMessage(socket, reader, signal);
    const packet = parseStartupPacket(reader.buffer, reader.start, reader.length);
    if (packet.kind === 'cancel') return packet;
    if (packet.kind === 'gssenc-request') {
      socket.write(Buffer.from('N'));
      continue;
    }
    if (packet.kind === 'ssl-request') {
      if (tls || !ctx.tls) {
        socket.write(Buffer.from('N'));
        continue;
      }
      if (reader.pending > 0) throw new HandshakeError('08P01', 'unexpected data after SSLRequest');
      socket.write(Buffer.from('S'));
      state.socket = null;
      socket = await acceptTls(socket, ctx, signal);
      state.socket = socket;
      tls = true;
      reader = new MessageReader({ startup: true, maxStartupSize: MAX_STARTUP_PACKET });
      continue;
    }
    if (packet.protocolVersion !== StartupCode.ProtocolV3) {
      throw new HandshakeError(
        '0A000',
        `unsupported frontend protocol ${packet.protocolVersion >> 16}.${packet.protocolVersion & 0xffff}: Warden speaks 3.0`,
      );
    }
    if (packet.params.replication)
      throw new HandshakeError('0A000', 'replication connections are not allowed through Warden');
    const params = withoutClientEncoding(packet.params);
    if (!tls && !opts.inProcess && !isLoopback(raw.remoteAddress)) {
      throw new HandshakeError(
        '28000',
        'Warden accepts identity tokens only over TLS (use sslmode=require) or from loopback',
      );
    }
    // The password is the identity token: ask for it in cleartext (inside TLS or on loopback).
    socket.write(writeAuthenticationCleartextPassword(w).flush());
    reader.startup = false;
    await nextMessage(socket, reader, signal, {
      code: FrontendCode.Password,
      maxLength: MAX_PASSWORD_PAYLOAD,
      what: 'password message',
    });
    const token = parsePasswordMessage(reader.buffer, reader.start, reader.length).trim();
    if (!token) throw new HandshakeError('28000', 'no identity token: pass your token as the password');
    return { kind: 'startup', socket, reader, params, token, tls };
  }
  throw new HandshakeError('08P01', 'too many handshake requests');
}

/**
 * Check every `client_encoding` the client asked for (GUC names are case-insensitive) and drop
 * them: the gateway always runs the session as UTF8 (see ./pinned.ts).
 */
function withoutClientEncoding(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(params)) {
    if (k.toLowerCase() !== 'client_encoding') {
      out[k] = v;
      continue;
    }
    if (!clientEncodingAccepted(v)) {
      throw new HandshakeError(
        '22023',
        `client_encoding ${JSON.stringify(v.slice(0, 64))} is not supported through Warden; use UTF8`,
      );
    }
  }
  return out;
}

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

/** A FATAL ErrorResponse for handshake refusals. */
export function fatal(sqlstate: string, message: string): Buffer {
  return writeErrorResponse(new MessageWriter(256), { severity: 'FATAL', code: sqlstate, message }).flush();
}

export function handshakeErrorFrom(err: unknown): HandshakeError {
  if (err instanceof HandshakeError) return err;
  if (err instanceof ProtocolError) return new HandshakeError('08P01', `invalid startup packet: ${err.message}`);
  return new HandshakeError('08P01', 'handshake failed');
}
