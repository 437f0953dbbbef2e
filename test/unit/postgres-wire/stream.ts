// Shared fixtures: a backend and a frontend stream of many message kinds, and a decoder that turns
// each framed message into plain data, so split-feeding can be compared with whole-feeding.
import {
  BackendCode,
  dataRowCells,
  FrontendCode,
  MessageReader,
  MessageWriter,
  parseAuthentication,
  parseBackendKeyData,
  parseBind,
  parseClose,
  parseCommandComplete,
  parseCopyData,
  parseCopyFail,
  parseCopyResponse,
  parseDescribe,
  parseErrorResponse,
  parseExecute,
  parseNotificationResponse,
  parseParameterDescription,
  parseParameterStatus,
  parseParse,
  parsePasswordMessage,
  parseQuery,
  parseReadyForQuery,
  parseRowDescription,
  parseStartupPacket,
  type WireMessage,
  writeAuthenticationCleartextPassword,
  writeAuthenticationOk,
  writeBackendKeyData,
  writeBind,
  writeClose,
  writeCommandComplete,
  writeCopyData,
  writeCopyDone,
  writeCopyFail,
  writeDataRow,
  writeDescribe,
  writeEmptyQueryResponse,
  writeErrorResponse,
  writeExecute,
  writeFlush,
  writeNoticeResponse,
  writeParameterStatus,
  writeParse,
  writePasswordMessage,
  writeQuery,
  writeReadyForQuery,
  writeRowDescription,
  writeSync,
  writeTerminate,
} from '../../../src/protocols/postgres/wire/index.js';

export const fields = [
  { name: 'id', tableOID: 16384, attnum: 1, typeOID: 23, typlen: 4, typmod: -1, format: 0 },
  { name: 'émail', tableOID: 16384, attnum: 2, typeOID: 25, typlen: -1, typmod: -1, format: 0 },
  { name: 'note', tableOID: 0, attnum: 0, typeOID: 1043, typlen: -1, typmod: 36, format: 1 },
];

/** A backend byte stream: handshake tail, a result set, an error, a notice and odd messages. */
export function backendStream(): Buffer {
  const w = new MessageWriter(64); // tiny slab: exercises growth too
  writeAuthenticationCleartextPassword(w);
  writeAuthenticationOk(w);
  writeParameterStatus(w, 'server_version', '15.8');
  writeBackendKeyData(w, 4242, -123456789);
  writeReadyForQuery(w, 'I');
  writeRowDescription(w, fields);
  writeDataRow(w, ['1', 'ann@example.com', null]);
  writeDataRow(w, ['2', '', Buffer.from([0, 1, 2, 255])]);
  writeCommandComplete(w, 'SELECT 2');
  writeEmptyQueryResponse(w);
  writeErrorResponse(w, { severity: 'ERROR', code: '42501', message: 'permission denied', detail: 'd', hint: 'h' });
  writeNoticeResponse(w, { severity: 'NOTICE', code: '00000', message: 'hello', extra: { W: 'here' } });
  // Hand-framed messages without a builder, including one unknown code.
  w.begin(BackendCode.ParameterDescription).int16(2).uint32(23).uint32(25).end();
  w.begin(BackendCode.CopyOutResponse).byte(0).int16(2).int16(0).int16(0).end();
  w.begin(BackendCode.CopyData).string('1\tann\n').end();
  w.begin(BackendCode.NotificationResponse).int32(77).cstring('chan').cstring('payload').end();
  w.begin(BackendCode.NoData).end();
  w.begin(0x7e).string('mystery').end();
  writeReadyForQuery(w, 'T');
  return Buffer.from(w.flush());
}

/** A frontend stream after startup: simple and extended protocol, COPY, terminate. */
export function frontendStream(): Buffer {
  const w = new MessageWriter(64);
  writePasswordMessage(w, 's3cret');
  writeQuery(w, "select 'ü'");
  writeParse(w, 'st1', 'select $1::int, $2', [23, 0]);
  writeBind(w, { portal: 'p1', statement: 'st1', paramFormats: [0], params: ['42', null], resultFormats: [1] });
  writeDescribe(w, 'P', 'p1');
  writeExecute(w, 'p1', 10);
  writeSync(w);
  writeFlush(w);
  writeClose(w, 'S', 'st1');
  writeCopyData(w, Buffer.from('a\tb\n'));
  writeCopyDone(w);
  writeCopyFail(w, 'client gave up');
  w.begin(0x21).string('unknown').end();
  writeTerminate(w);
  return Buffer.from(w.flush());
}

const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));

export function decodeBackend(m: WireMessage): unknown {
  const { buffer: b, start: s, length: n } = m;
  switch (m.code) {
    case BackendCode.Authentication: {
      const a = parseAuthentication(b, s, n);
      return 'salt' in a ? { ...a, salt: hex(a.salt) } : a;
    }
    case BackendCode.ParameterStatus:
      return parseParameterStatus(b, s, n);
    case BackendCode.BackendKeyData:
      return parseBackendKeyData(b, s, n);
    case BackendCode.ReadyForQuery:
      return { ready: parseReadyForQuery(b, s, n) };
    case BackendCode.RowDescription:
      return parseRowDescription(b, s, n);
    case BackendCode.DataRow:
      return dataRowCells(b, s, n).map(hex);
    case BackendCode.CommandComplete:
      return { tag: parseCommandComplete(b, s, n) };
    case BackendCode.ErrorResponse:
    case BackendCode.NoticeResponse: {
      const e = parseErrorResponse(b, s, n);
      return { ...e, fields: [...e.fields] };
    }
    case BackendCode.ParameterDescription:
      return parseParameterDescription(b, s, n);
    case BackendCode.CopyOutResponse:
      return parseCopyResponse(b, s, n);
    case BackendCode.CopyData:
      return { copy: hex(parseCopyData(b, s, n)) };
    case BackendCode.NotificationResponse:
      return parseNotificationResponse(b, s, n);
    default:
      return { unknown: m.code, payload: hex(b.subarray(s, s + n)) };
  }
}

export function decodeFrontend(m: WireMessage): unknown {
  const { buffer: b, start: s, length: n } = m;
  switch (m.code) {
    case FrontendCode.Password:
      return { password: parsePasswordMessage(b, s, n) };
    case FrontendCode.Query:
      return { query: parseQuery(b, s, n) };
    case FrontendCode.Parse:
      return parseParse(b, s, n);
    case FrontendCode.Bind: {
      const bind = parseBind(b, s, n);
      return { ...bind, params: bind.params.map(hex) };
    }
    case FrontendCode.Describe:
      return { describe: parseDescribe(b, s, n) };
    case FrontendCode.Close:
      return { close: parseClose(b, s, n) };
    case FrontendCode.Execute:
      return parseExecute(b, s, n);
    case FrontendCode.CopyData:
      return { copy: hex(parseCopyData(b, s, n)) };
    case FrontendCode.CopyFail:
      return { copyFail: parseCopyFail(b, s, n) };
    default:
      return { code: m.code, payload: hex(b.subarray(s, s + n)) };
  }
}

export function decodeStartup(m: WireMessage): unknown {
  const p = parseStartupPacket(m.buffer, m.start, m.length);
  return p.kind === 'startup' ? { ...p, params: { ...p.params }, code: m.code } : { ...p, code: m.code };
}

/** Feed `chunks` into a fresh reader and decode every message. */
export function feed(chunks: Buffer[], decode: (m: WireMessage) => unknown, startup = false): unknown[] {
  const reader = new MessageReader({ startup });
  const out: unknown[] = [];
  for (const c of chunks) {
    reader.push(c);
    while (reader.next()) out.push(decode(reader));
  }
  if (reader.pending !== 0) throw new Error(`${reader.pending} bytes left over`);
  return out;
}
