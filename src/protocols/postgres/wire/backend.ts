// Parsers for messages a server sends. Each takes the (buffer, start, length) of a payload as
// produced by MessageReader and throws ProtocolError('malformed-message') on bad content.
// DataRow is walked in place (cell offsets, no copies): it is the hottest message on the wire.
import { AuthCode, type TransactionStatus } from './codes.js';
import { cursor } from './cursor.js';
import { ProtocolError } from './errors.js';

export type AuthenticationMessage =
  | { type: 'ok' }
  | { type: 'cleartext-password' }
  | { type: 'md5-password'; salt: Buffer }
  | { type: 'sasl'; mechanisms: string[] }
  | { type: 'sasl-continue'; data: Buffer }
  | { type: 'sasl-final'; data: Buffer }
  /** Kerberos, GSS, SSPI: recognised, not supported by Warden. */
  | { type: 'unsupported'; subtype: number };

export function parseAuthentication(buf: Buffer, start: number, length: number): AuthenticationMessage {
  const c = cursor.at(buf, start, length);
  const subtype = c.int32();
  switch (subtype) {
    case AuthCode.Ok:
      return { type: 'ok' };
    case AuthCode.CleartextPassword:
      return { type: 'cleartext-password' };
    case AuthCode.MD5Password: {
      const salt = c.bytes(4);
      c.done();
      return { type: 'md5-password', salt };
    }
    case AuthCode.SASL: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = c.cstring();
        if (m === '') break;
        mechanisms.push(m);
      }
      return { type: 'sasl', mechanisms };
    }
    case AuthCode.SASLContinue:
      return { type: 'sasl-continue', data: c.rest() };
    case AuthCode.SASLFinal:
      return { type: 'sasl-final', data: c.rest() };
    default:
      return { type: 'unsupported', subtype };
  }
}

export interface ParameterStatus {
  name: string;
  value: string;
}

export function parseParameterStatus(buf: Buffer, start: number, length: number): ParameterStatus {
  const c = cursor.at(buf, start, length);
  const name = c.cstring();
  const value = c.cstring();
  c.done();
  return { name, value };
}

export interface BackendKey {
  pid: number;
  secret: number;
}

export function parseBackendKeyData(buf: Buffer, start: number, length: number): BackendKey {
  const c = cursor.at(buf, start, length);
  const pid = c.int32();
  const secret = c.int32();
  c.done();
  return { pid, secret };
}

export function parseReadyForQuery(buf: Buffer, start: number, length: number): TransactionStatus {
  if (length !== 1) throw new ProtocolError('malformed-message', 'ReadyForQuery must carry one byte');
  const s = buf[start];
  if (s === 0x49) return 'I';
  if (s === 0x54) return 'T';
  if (s === 0x45) return 'E';
  throw new ProtocolError('malformed-message', 'unknown transaction status');
}

/** One column of a RowDescription. tableOID/attnum are 0 when the column is not a plain table column. */
export interface FieldDescription {
  name: string;
  tableOID: number;
  attnum: number;
  typeOID: number;
  typlen: number;
  typmod: number;
  /** 0 = text, 1 = binary. */
  format: number;
}

export function parseRowDescription(buf: Buffer, start: number, length: number): FieldDescription[] {
  const c = cursor.at(buf, start, length);
  const count = c.int16();
  if (count < 0) throw new ProtocolError('malformed-message', 'negative field count');
  const fields = new Array<FieldDescription>(count);
  for (let i = 0; i < count; i++) {
    fields[i] = {
      name: c.cstring(),
      tableOID: c.uint32(),
      attnum: c.int16(),
      typeOID: c.uint32(),
      typlen: c.int16(),
      typmod: c.int32(),
      format: c.int16(),
    };
  }
  c.done();
  return fields;
}

/** ParameterDescription: the type OID of each parameter. */
export function parseParameterDescription(buf: Buffer, start: number, length: number): number[] {
  const c = cursor.at(buf, start, length);
  const count = c.int16();
  if (count < 0) throw new ProtocolError('malformed-message', 'negative parameter count');
  const types = new Array<number>(count);
  for (let i = 0; i < count; i++) types[i] = c.uint32();
  c.done();
  return types;
}

/**
 * Walk a DataRow in place: `visit(col, cellStart, cellLength)` per column, cellLength -1 = NULL.
 * Returns the column count. Validates every length against the payload bounds.
 */
export function walkDataRow(
  buf: Buffer,
  start: number,
  length: number,
  visit: (col: number, cellStart: number, cellLength: number) => void,
): number {
  const end = start + length;
  if (length < 2) throw new ProtocolError('malformed-message', 'DataRow is truncated');
  const count = buf.readInt16BE(start);
  if (count < 0) throw new ProtocolError('malformed-message', 'negative column count');
  let p = start + 2;
  for (let i = 0; i < count; i++) {
    if (p + 4 > end) throw new ProtocolError('malformed-message', 'DataRow is truncated');
    const n = buf.readInt32BE(p);
    p += 4;
    if (n === -1) {
      visit(i, p, -1);
      continue;
    }
    if (n < 0 || p + n > end) throw new ProtocolError('malformed-message', 'DataRow cell overruns the message');
    visit(i, p, n);
    p += n;
  }
  if (p !== end) throw new ProtocolError('malformed-message', 'DataRow has trailing bytes');
  return count;
}

/** Convenience (allocates): each cell as a view, null for SQL NULL. */
export function dataRowCells(buf: Buffer, start: number, length: number): (Buffer | null)[] {
  const cells: (Buffer | null)[] = [];
  walkDataRow(buf, start, length, (_col, s, n) => {
    cells.push(n === -1 ? null : buf.subarray(s, s + n));
  });
  return cells;
}

export function parseCommandComplete(buf: Buffer, start: number, length: number): string {
  const c = cursor.at(buf, start, length);
  const tag = c.cstring();
  c.done();
  return tag;
}

/** Whether `buf` from `start` holds the bytes of `s`, one byte per character (latin1). */
export function sameLatin1(buf: Buffer, start: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (buf[start + i] !== s.charCodeAt(i)) return false;
  return true;
}

/**
 * One session's CommandComplete tags (a session repeats a few): a tag whose bytes are the last
 * kept tag's is that string, compared without decoding. Only a tag of one byte per character is
 * kept (ASCII; a byte decoded to U+FFFD can never equal that character), so equal bytes are
 * equal text.
 */
export class CommandTags {
  private last = '';

  /** parseCommandComplete's result for this CommandComplete payload. */
  read(buf: Buffer, start: number, length: number): string {
    const last = this.last;
    if (length === last.length + 1 && buf[start + last.length] === 0 && sameLatin1(buf, start, last)) return last;
    const tag = parseCommandComplete(buf, start, length);
    if (tag.length + 1 === length) this.last = tag;
    return tag;
  }
}

/** Split a command tag: `INSERT 0 5` → { command: 'INSERT', rows: 5 }; rows null when the tag has none. */
export function parseCommandTag(tag: string): { command: string; rows: number | null } {
  const lastSpace = tag.lastIndexOf(' ');
  if (lastSpace > 0) {
    const tail = tag.slice(lastSpace + 1);
    if (/^\d+$/.test(tail)) {
      const command = tag.startsWith('INSERT ') ? 'INSERT' : tag.slice(0, lastSpace);
      return { command, rows: Number(tail) };
    }
  }
  return { command: tag, rows: null };
}

/** ErrorResponse / NoticeResponse. `fields` maps the one-letter field code to its value. */
export interface ErrorNotice {
  fields: Map<string, string>;
  /** Non-localized severity when sent (V), else localized (S). */
  severity: string;
  /** SQLSTATE. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** Walk the fields of an ErrorResponse/NoticeResponse in place: `visit(fieldCode, valueStart, valueEnd)`. */
export function walkErrorFields(
  buf: Buffer,
  start: number,
  length: number,
  visit: (fieldCode: number, valueStart: number, valueEnd: number) => void,
): void {
  const c = cursor.at(buf, start, length);
  for (;;) {
    const f = c.byte();
    if (f === 0) break;
    const s = c.pos;
    const e = c.cstringEnd();
    c.pos = e + 1;
    visit(f, s, e);
  }
  c.done();
}

export function parseErrorResponse(buf: Buffer, start: number, length: number): ErrorNotice {
  const fields = new Map<string, string>();
  walkErrorFields(buf, start, length, (f, s, e) => {
    fields.set(String.fromCharCode(f), buf.toString('utf8', s, e));
  });
  const out: ErrorNotice = {
    fields,
    severity: fields.get('V') ?? fields.get('S') ?? '',
    code: fields.get('C') ?? '',
    message: fields.get('M') ?? '',
  };
  const detail = fields.get('D');
  if (detail !== undefined) out.detail = detail;
  const hint = fields.get('H');
  if (hint !== undefined) out.hint = hint;
  return out;
}

export const parseNoticeResponse = parseErrorResponse;

export interface CopyResponse {
  /** 0 = text, 1 = binary. */
  overallFormat: number;
  columnFormats: number[];
}

/** CopyInResponse, CopyOutResponse and CopyBothResponse share one layout. */
export function parseCopyResponse(buf: Buffer, start: number, length: number): CopyResponse {
  const c = cursor.at(buf, start, length);
  const overallFormat = c.byte();
  const count = c.int16();
  if (count < 0) throw new ProtocolError('malformed-message', 'negative column count');
  const columnFormats = new Array<number>(count);
  for (let i = 0; i < count; i++) columnFormats[i] = c.int16();
  c.done();
  return { overallFormat, columnFormats };
}

export interface Notification {
  pid: number;
  channel: string;
  payload: string;
}

export function parseNotificationResponse(buf: Buffer, start: number, length: number): Notification {
  const c = cursor.at(buf, start, length);
  const pid = c.int32();
  const channel = c.cstring();
  const payload = c.cstring();
  c.done();
  return { pid, channel, payload };
}
