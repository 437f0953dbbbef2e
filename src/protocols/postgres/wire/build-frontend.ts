// Builders for client → server messages (what the gateway speaks to the upstream database).
// Each appends one message to a MessageWriter; call `writer.flush()` to take the batch.
import { FrontendCode, StartupCode } from './codes.js';
import type { MessageWriter } from './writer.js';

export function writeStartupMessage(
  w: MessageWriter,
  params: Record<string, string>,
  protocolVersion: number = StartupCode.ProtocolV3,
): MessageWriter {
  w.beginUntyped().int32(protocolVersion);
  for (const [k, v] of Object.entries(params)) w.cstring(k).cstring(v);
  return w.byte(0).end();
}

export function writeSSLRequest(w: MessageWriter): MessageWriter {
  return w.beginUntyped().int32(StartupCode.SSLRequest).end();
}

export function writeCancelRequest(w: MessageWriter, pid: number, secret: number): MessageWriter {
  return w.beginUntyped().int32(StartupCode.CancelRequest).int32(pid).int32(secret).end();
}

export function writePasswordMessage(w: MessageWriter, password: string): MessageWriter {
  return w.begin(FrontendCode.Password).cstring(password).end();
}

export function writeSASLInitialResponse(w: MessageWriter, mechanism: string, data: Buffer | null): MessageWriter {
  w.begin(FrontendCode.Password).cstring(mechanism);
  if (data === null) w.int32(-1);
  else w.int32(data.length).bytes(data);
  return w.end();
}

export function writeSASLResponse(w: MessageWriter, data: Buffer): MessageWriter {
  return w.begin(FrontendCode.Password).bytes(data).end();
}

export function writeQuery(w: MessageWriter, sql: string): MessageWriter {
  return w.begin(FrontendCode.Query).cstring(sql).end();
}

export function writeParse(
  w: MessageWriter,
  name: string,
  text: string,
  paramTypes: readonly number[] = [],
): MessageWriter {
  w.begin(FrontendCode.Parse).cstring(name).cstring(text).int16(paramTypes.length);
  for (const t of paramTypes) w.uint32(t);
  return w.end();
}

export interface BindInput {
  portal?: string;
  statement?: string;
  paramFormats?: readonly number[];
  /** Strings are sent as UTF-8 text; null is SQL NULL. */
  params?: readonly (Buffer | string | null)[];
  resultFormats?: readonly number[];
}

export function writeBind(w: MessageWriter, b: BindInput): MessageWriter {
  const paramFormats = b.paramFormats ?? [];
  const params = b.params ?? [];
  const resultFormats = b.resultFormats ?? [];
  w.begin(FrontendCode.Bind)
    .cstring(b.portal ?? '')
    .cstring(b.statement ?? '');
  w.int16(paramFormats.length);
  for (const f of paramFormats) w.int16(f);
  w.int16(params.length);
  for (const p of params) {
    if (p === null) w.int32(-1);
    else if (typeof p === 'string') w.int32(Buffer.byteLength(p, 'utf8')).string(p);
    else w.int32(p.length).bytes(p);
  }
  w.int16(resultFormats.length);
  for (const f of resultFormats) w.int16(f);
  return w.end();
}

export function writeDescribe(w: MessageWriter, target: 'S' | 'P', name = ''): MessageWriter {
  return w.begin(FrontendCode.Describe).byte(target.charCodeAt(0)).cstring(name).end();
}

export function writeClose(w: MessageWriter, target: 'S' | 'P', name = ''): MessageWriter {
  return w.begin(FrontendCode.Close).byte(target.charCodeAt(0)).cstring(name).end();
}

export function writeExecute(w: MessageWriter, portal = '', maxRows = 0): MessageWriter {
  return w.begin(FrontendCode.Execute).cstring(portal).int32(maxRows).end();
}

export function writeSync(w: MessageWriter): MessageWriter {
  return w.begin(FrontendCode.Sync).end();
}

export function writeFlush(w: MessageWriter): MessageWriter {
  return w.begin(FrontendCode.Flush).end();
}

export function writeTerminate(w: MessageWriter): MessageWriter {
  return w.begin(FrontendCode.Terminate).end();
}

/** CopyData (either direction uses the same code). */
export function writeCopyData(w: MessageWriter, data: Uint8Array): MessageWriter {
  return w.begin(FrontendCode.CopyData).bytes(data).end();
}

export function writeCopyDone(w: MessageWriter): MessageWriter {
  return w.begin(FrontendCode.CopyDone).end();
}

export function writeCopyFail(w: MessageWriter, message: string): MessageWriter {
  return w.begin(FrontendCode.CopyFail).cstring(message).end();
}
