// Parsers for messages a client sends. Each takes the (buffer, start, length) of a payload as
// produced by MessageReader and throws ProtocolError('malformed-message') on bad content.
// Byte payloads (Bind parameters, CopyData, SASL data) are views into the buffer, not copies.
import { StartupCode } from './codes.js';
import { cursor } from './cursor.js';
import { ProtocolError } from './errors.js';

export type StartupPacket =
  | { kind: 'startup'; protocolVersion: number; params: Record<string, string> }
  | { kind: 'ssl-request' }
  | { kind: 'gssenc-request' }
  | { kind: 'cancel'; pid: number; secret: number };

/** A startup-phase packet; start/length cover everything after the length field (code included). */
export function parseStartupPacket(buf: Buffer, start: number, length: number): StartupPacket {
  const c = cursor.at(buf, start, length);
  const code = c.int32();
  if (code === StartupCode.SSLRequest || code === StartupCode.GSSENCRequest) {
    c.done();
    return { kind: code === StartupCode.SSLRequest ? 'ssl-request' : 'gssenc-request' };
  }
  if (code === StartupCode.CancelRequest) {
    const pid = c.int32();
    const secret = c.int32();
    c.done();
    return { kind: 'cancel', pid, secret };
  }
  // Null-prototype map: parameter names come from the client.
  const params: Record<string, string> = Object.create(null);
  for (;;) {
    const name = c.cstring();
    if (name === '') break;
    params[name] = c.cstring();
  }
  c.done();
  return { kind: 'startup', protocolVersion: code, params };
}

/** PasswordMessage: the cleartext or md5 password. */
export function parsePasswordMessage(buf: Buffer, start: number, length: number): string {
  const c = cursor.at(buf, start, length);
  const password = c.cstring();
  c.done();
  return password;
}

export interface SASLInitialResponse {
  mechanism: string;
  /** Client-first message, or null when the client sent length -1. */
  data: Buffer | null;
}

export function parseSASLInitialResponse(buf: Buffer, start: number, length: number): SASLInitialResponse {
  const c = cursor.at(buf, start, length);
  const mechanism = c.cstring();
  const n = c.int32();
  const data = n === -1 ? null : c.bytes(n);
  c.done();
  return { mechanism, data };
}

/** SASLResponse: the whole payload is mechanism data. */
export function parseSASLResponse(buf: Buffer, start: number, length: number): Buffer {
  return buf.subarray(start, start + length);
}

export function parseQuery(buf: Buffer, start: number, length: number): string {
  const c = cursor.at(buf, start, length);
  const sql = c.cstring();
  c.done();
  return sql;
}

export interface ParseMessage {
  /** Prepared statement name; '' is the unnamed statement. */
  name: string;
  text: string;
  paramTypes: number[];
}

export function parseParse(buf: Buffer, start: number, length: number): ParseMessage {
  const c = cursor.at(buf, start, length);
  const name = c.cstring();
  const text = c.cstring();
  const count = c.int16();
  if (count < 0) throw new ProtocolError('malformed-message', 'negative parameter type count');
  const paramTypes = new Array<number>(count);
  for (let i = 0; i < count; i++) paramTypes[i] = c.uint32();
  c.done();
  return { name, text, paramTypes };
}

export interface BindMessage {
  portal: string;
  statement: string;
  /** 0 = text, 1 = binary; empty = all text, one entry = applies to all. */
  paramFormats: number[];
  /** Parameter values as views into the message; null = SQL NULL. */
  params: (Buffer | null)[];
  resultFormats: number[];
}

function readFormats(): number[] {
  const count = cursor.int16();
  if (count < 0) throw new ProtocolError('malformed-message', 'negative format count');
  const formats = new Array<number>(count);
  for (let i = 0; i < count; i++) formats[i] = cursor.int16();
  return formats;
}

export function parseBind(buf: Buffer, start: number, length: number): BindMessage {
  const c = cursor.at(buf, start, length);
  const portal = c.cstring();
  const statement = c.cstring();
  const paramFormats = readFormats();
  const count = c.int16();
  if (count < 0) throw new ProtocolError('malformed-message', 'negative parameter count');
  const params = new Array<Buffer | null>(count);
  for (let i = 0; i < count; i++) {
    const n = c.int32();
    params[i] = n === -1 ? null : c.bytes(n);
  }
  const resultFormats = readFormats();
  c.done();
  return { portal, statement, paramFormats, params, resultFormats };
}

export interface TargetMessage {
  /** 'S' = prepared statement, 'P' = portal. */
  target: 'S' | 'P';
  name: string;
}

/** Describe and Close share one layout. */
export function parseDescribe(buf: Buffer, start: number, length: number): TargetMessage {
  const c = cursor.at(buf, start, length);
  const t = c.byte();
  if (t !== 0x53 && t !== 0x50) throw new ProtocolError('malformed-message', 'describe/close target is not S or P');
  const name = c.cstring();
  c.done();
  return { target: t === 0x53 ? 'S' : 'P', name };
}

export const parseClose = parseDescribe;

export interface ExecuteMessage {
  portal: string;
  /** 0 = no limit. */
  maxRows: number;
}

export function parseExecute(buf: Buffer, start: number, length: number): ExecuteMessage {
  const c = cursor.at(buf, start, length);
  const portal = c.cstring();
  const maxRows = c.int32();
  c.done();
  return { portal, maxRows };
}

/** CopyData (both directions): the payload itself, as a view. */
export function parseCopyData(buf: Buffer, start: number, length: number): Buffer {
  return buf.subarray(start, start + length);
}

/** CopyFail: the client's reason. */
export function parseCopyFail(buf: Buffer, start: number, length: number): string {
  const c = cursor.at(buf, start, length);
  const message = c.cstring();
  c.done();
  return message;
}
