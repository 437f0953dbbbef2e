// A minimal simple-protocol query for Warden's own side connections (catalog lookups, health).
// Not for client traffic: results are materialized as text.
import {
  BackendCode,
  type FieldDescription,
  MessageWriter,
  parseCommandComplete,
  parseErrorResponse,
  parseParameterStatus,
  parseRowDescription,
  walkDataRow,
  writeCopyFail,
  writeQuery,
} from '../wire/index.js';
import type { UpstreamConnection } from './connect.js';
import { serverError, type UpstreamError } from './errors.js';
import { SocketMessages } from './socket-messages.js';

export interface SimpleQueryResult {
  /** Columns of the last result set. */
  fields: FieldDescription[];
  /** Rows of the last result set, cells as text (null = SQL NULL). */
  rows: (string | null)[][];
  /** Command tag of the last statement, e.g. `SELECT 2`. */
  command: string;
}

const busy = new WeakSet<UpstreamConnection>();

/**
 * Run `sql` with the simple protocol and wait for ReadyForQuery. A server error rejects with
 * UpstreamError('server-error') once the server is ready again, so the connection stays usable.
 */
export async function simpleQuery(conn: UpstreamConnection, sql: string): Promise<SimpleQueryResult> {
  if (busy.has(conn)) throw new TypeError('simpleQuery: a query is already running on this connection');
  busy.add(conn);
  const messages = new SocketMessages(conn.socket, conn.reader);
  try {
    conn.socket.write(writeQuery(new MessageWriter(256 + sql.length * 3), sql).flush());
    let fields: FieldDescription[] = [];
    let rows: (string | null)[][] = [];
    let command = '';
    let error: UpstreamError | undefined;
    for (;;) {
      const m = await messages.next();
      const { buffer: b, start: s, length: n } = m;
      switch (m.code) {
        case BackendCode.RowDescription:
          fields = parseRowDescription(b, s, n);
          rows = [];
          break;
        case BackendCode.DataRow: {
          const row: (string | null)[] = [];
          walkDataRow(b, s, n, (_col, cs, cn) => {
            row.push(cn === -1 ? null : b.toString('utf8', cs, cs + cn));
          });
          rows.push(row);
          break;
        }
        case BackendCode.CommandComplete:
          command = parseCommandComplete(b, s, n);
          break;
        case BackendCode.ErrorResponse:
          error ??= serverError(parseErrorResponse(b, s, n));
          break;
        case BackendCode.ParameterStatus: {
          const p = parseParameterStatus(b, s, n);
          conn.parameters.set(p.name, p.value);
          break;
        }
        case BackendCode.CopyInResponse:
          // Side connections never feed COPY FROM STDIN.
          conn.socket.write(writeCopyFail(new MessageWriter(64), 'not supported by Warden side connection').flush());
          break;
        case BackendCode.ReadyForQuery:
          if (error) throw error;
          return { fields, rows, command };
        default:
          // Notices, notifications, EmptyQueryResponse, COPY OUT data: nothing to collect.
          break;
      }
    }
  } finally {
    messages.detach();
    busy.delete(conn);
  }
}
