// Builders for server → client messages (what the gateway speaks to its clients). Each appends one
// message to a MessageWriter; call `writer.flush()` to take the batch.
import type { FieldDescription } from './backend.js';
import { AuthCode, BackendCode, ErrorField, type TransactionStatus } from './codes.js';
import type { MessageWriter } from './writer.js';

/** Fields of an ErrorResponse/NoticeResponse. `extra` adds raw fields by their one-letter code. */
export interface ErrorFieldsInput {
  /** ERROR, FATAL, PANIC, WARNING, NOTICE, DEBUG, INFO, LOG. */
  severity: string;
  /** SQLSTATE, e.g. 42501. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the query text. */
  position?: number;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  extra?: Record<string, string>;
}

function field(w: MessageWriter, code: number, value: string | number | undefined): void {
  if (value === undefined) return;
  w.byte(code).cstring(String(value));
}

function writeErrorOrNotice(w: MessageWriter, type: number, f: ErrorFieldsInput): MessageWriter {
  w.begin(type);
  field(w, ErrorField.Severity, f.severity);
  field(w, ErrorField.SeverityNonLocalized, f.severity);
  field(w, ErrorField.Code, f.code);
  field(w, ErrorField.Message, f.message);
  field(w, ErrorField.Detail, f.detail);
  field(w, ErrorField.Hint, f.hint);
  field(w, ErrorField.Position, f.position);
  field(w, ErrorField.Where, f.where);
  field(w, ErrorField.Schema, f.schema);
  field(w, ErrorField.Table, f.table);
  field(w, ErrorField.Column, f.column);
  field(w, ErrorField.Constraint, f.constraint);
  if (f.extra) {
    for (const [k, v] of Object.entries(f.extra)) {
      if (k.length !== 1) throw new TypeError('error field codes are one character');
      field(w, k.charCodeAt(0), v);
    }
  }
  return w.byte(0).end();
}

export function writeErrorResponse(w: MessageWriter, fields: ErrorFieldsInput): MessageWriter {
  return writeErrorOrNotice(w, BackendCode.ErrorResponse, fields);
}

export function writeNoticeResponse(w: MessageWriter, fields: ErrorFieldsInput): MessageWriter {
  return writeErrorOrNotice(w, BackendCode.NoticeResponse, fields);
}

export function writeReadyForQuery(w: MessageWriter, status: TransactionStatus): MessageWriter {
  return w.begin(BackendCode.ReadyForQuery).byte(status.charCodeAt(0)).end();
}

export function writeAuthenticationOk(w: MessageWriter): MessageWriter {
  return w.begin(BackendCode.Authentication).int32(AuthCode.Ok).end();
}

export function writeAuthenticationCleartextPassword(w: MessageWriter): MessageWriter {
  return w.begin(BackendCode.Authentication).int32(AuthCode.CleartextPassword).end();
}

export function writeParameterStatus(w: MessageWriter, name: string, value: string): MessageWriter {
  return w.begin(BackendCode.ParameterStatus).cstring(name).cstring(value).end();
}

export function writeBackendKeyData(w: MessageWriter, pid: number, secret: number): MessageWriter {
  return w.begin(BackendCode.BackendKeyData).int32(pid).int32(secret).end();
}

export function writeRowDescription(w: MessageWriter, fields: readonly FieldDescription[]): MessageWriter {
  w.begin(BackendCode.RowDescription).int16(fields.length);
  for (const f of fields) {
    w.cstring(f.name).uint32(f.tableOID).int16(f.attnum).uint32(f.typeOID).int16(f.typlen).int32(f.typmod);
    w.int16(f.format);
  }
  return w.end();
}

/** DataRow from cell values: strings are UTF-8 text, null is SQL NULL. */
export function writeDataRow(w: MessageWriter, cells: readonly (Buffer | string | null)[]): MessageWriter {
  w.begin(BackendCode.DataRow).int16(cells.length);
  for (const cell of cells) {
    if (cell === null) w.int32(-1);
    else if (typeof cell === 'string') w.int32(Buffer.byteLength(cell, 'utf8')).string(cell);
    else w.int32(cell.length).bytes(cell);
  }
  return w.end();
}

export function writeCommandComplete(w: MessageWriter, tag: string): MessageWriter {
  return w.begin(BackendCode.CommandComplete).cstring(tag).end();
}

export function writeEmptyQueryResponse(w: MessageWriter): MessageWriter {
  return w.begin(BackendCode.EmptyQueryResponse).end();
}

/** Messages with no payload: ParseComplete, BindComplete, CloseComplete, NoData, PortalSuspended, CopyDone. */
export function writeEmptyMessage(w: MessageWriter, code: number): MessageWriter {
  return w.begin(code).end();
}
