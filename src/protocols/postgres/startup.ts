// The client side of the handshake: SSLRequest/GSSENCRequest, CancelRequest, StartupMessage, and
// the cleartext password exchange that carries the identity token.
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { EngineContext } from '../engine.js';
import {
  FrontendCode,
  MessageReader,
  MessageWriter,
  ProtocolError,
  StartupCode,
  parsePasswordMessage,
  parseStartupPacket,
  writeAuthenticationCleartextPassword,
  writeErrorResponse,
} from './wire/index.js';

export type Handshake =
  | { kind: 'cancel'; pid: number; secret: number }
  | {
      kind: 'startup';
      socket: Socket;
      reader: MessageReader;
      params: Record<string, string>;
      token: string;
      tls: boolean;
    };

/** A refusal during the handshake, sent as a FATAL ErrorResponse. */
export class HandshakeError extends Error {
  constructor(
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
  }
}

const HANDSHAKE_TIMEOUT_MS = 15_000;

/** Read packets from `socket` into `reader` until one complete message is available. */
function nextMessage(socket: Socket, reader: MessageReader): Promise<void> {
  return new Promise((resolve, reject) => {
    if (reader.next()) return resolve();
    const timer = setTimeout(() => finish(new HandshakeError('08P01', 'handshake timed out')), HANDSHAKE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      try {
        reader.push(chunk);
        if (reader.next()) finish();
      } catch (err) {
        finish(err as Error);
      }
    };
    const onEnd = () => finish(new HandshakeError('08006', 'client closed the connection during the handshake'));
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve();
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
    socket.resume();
  });
}

export async function readHandshake(raw: Socket, ctx: EngineContext): Promise<Handshake> {
  let socket: Socket = raw;
  let tls = false;
  let reader = new MessageReader({ startup: true });
  const w = new MessageWriter(256);
  for (let round = 0; round < 3; round++) {
    await nextMessage(socket, reader);
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
      const secure = new TLSSocket(socket, { isServer: true, ...ctx.tls });
      await new Promise<void>((resolve, reject) => {
        secure.once('secure', resolve);
        secure.once('error', reject);
      });
      socket = secure;
      tls = true;
      reader = new MessageReader({ startup: true });
      continue;
    }
    if (packet.protocolVersion !== StartupCode.ProtocolV3) {
      throw new HandshakeError('0A000', `unsupported frontend protocol ${packet.protocolVersion >> 16}.${packet.protocolVersion & 0xffff}: Warden speaks 3.0`);
    }
    if (packet.params.replication) throw new HandshakeError('0A000', 'replication connections are not allowed through Warden');
    if (!tls && !isLoopback(raw.remoteAddress)) {
      throw new HandshakeError('28000', 'Warden accepts identity tokens only over TLS (use sslmode=require) or from loopback');
    }
    // The password is the identity token: ask for it in cleartext (inside TLS or on loopback).
    socket.write(writeAuthenticationCleartextPassword(w).flush());
    reader.startup = false;
    await nextMessage(socket, reader);
    if (reader.code !== FrontendCode.Password) throw new HandshakeError('08P01', 'expected a password message');
    const token = parsePasswordMessage(reader.buffer, reader.start, reader.length).trim();
    if (!token) throw new HandshakeError('28000', 'no identity token: pass your token as the password');
    return { kind: 'startup', socket, reader, params: packet.params, token, tls };
  }
  throw new HandshakeError('08P01', 'too many handshake requests');
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
