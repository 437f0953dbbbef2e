// Resolves RowDescription (tableOID, attnum) pairs to their source column, so masking follows a
// column through aliases (`SELECT email AS e`). Uses its own lazily opened side connection; one
// query per batch of unknown pairs; results (including "not a table column") cached.

import {
  BackendCode,
  type FieldDescription,
  MessageWriter,
  parseErrorResponse,
  parseRowDescription,
  writeDescribe,
  writeParse,
  writeSync,
} from '../wire/index.js';
import { closeUpstream, connectUpstream, type UpstreamConnection, type UpstreamOptions } from './connect.js';
import { isUpstreamError, serverError, type UpstreamError } from './errors.js';
import { simpleQuery } from './query.js';
import { SocketMessages } from './socket-messages.js';

export interface ColumnSource {
  schema: string;
  table: string;
  column: string;
}

export interface ColumnKey {
  tableOID: number;
  attnum: number;
}

const BATCH = 500;
const key = (oid: number, attnum: number) => `${oid}:${attnum}`;
const validOid = (n: number) => Number.isInteger(n) && n > 0 && n <= 0xffffffff;
const validAttnum = (n: number) => Number.isInteger(n) && n >= -32768 && n <= 32767 && n !== 0;

export class CatalogLookup {
  private conn: UpstreamConnection | undefined;
  private connecting: Promise<UpstreamConnection> | undefined;
  private readonly cache = new Map<string, ColumnSource | null>();
  /** Lookups run one at a time on the side connection. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly options: UpstreamOptions,
    private readonly connect: (o: UpstreamOptions) => Promise<UpstreamConnection> = connectUpstream,
  ) {}

  /** One result per input pair, in order; null when the pair is not a table column. */
  async resolve(pairs: readonly ColumnKey[]): Promise<(ColumnSource | null)[]> {
    if (
      pairs.some((p) => !this.cache.has(key(p.tableOID, p.attnum)) && validOid(p.tableOID) && validAttnum(p.attnum))
    ) {
      const run = this.queue.then(() => this.fetchMissing(pairs));
      this.queue = run.catch(() => undefined);
      await run;
    }
    return pairs.map((p) => this.cache.get(key(p.tableOID, p.attnum)) ?? null);
  }

  /**
   * The columns `sql` would return, from Parse (unnamed) + Describe + Sync on the side connection:
   * nothing is executed. null when the statement returns no rows; a server error rejects.
   */
  async describe(sql: string): Promise<FieldDescription[] | null> {
    const run = this.queue.then(async () => {
      const conn = await this.connection();
      try {
        return await describeStatement(conn, sql);
      } catch (e) {
        if (!isUpstreamError(e, 'server-error')) {
          conn.socket.destroy();
          if (this.conn === conn) this.conn = undefined;
        }
        throw e;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** One of the gateway's own catalog queries (fixed text, never client input) on the side
   * connection, queued with the lookups; rows as text. */
  async query(sql: string): Promise<(string | null)[][]> {
    const run = this.queue.then(async () => {
      const conn = await this.connection();
      try {
        return (await simpleQuery(conn, sql)).rows;
      } catch (e) {
        if (!isUpstreamError(e, 'server-error')) {
          conn.socket.destroy();
          if (this.conn === conn) this.conn = undefined;
        }
        throw e;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Forget cached names (e.g. after DDL). */
  invalidate(): void {
    this.cache.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn ?? (await this.connecting?.catch(() => undefined));
    this.conn = undefined;
    if (conn) closeUpstream(conn);
  }

  private async connection(): Promise<UpstreamConnection> {
    if (this.closed) throw new TypeError('CatalogLookup is closed');
    if (this.conn && !this.conn.socket.destroyed) return this.conn;
    this.connecting ??= this.connect(this.options).then((conn) => {
      conn.socket.once('close', () => {
        if (this.conn === conn) this.conn = undefined;
      });
      this.conn = conn;
      return conn;
    });
    try {
      return await this.connecting;
    } finally {
      this.connecting = undefined;
    }
  }

  private async fetchMissing(pairs: readonly ColumnKey[]): Promise<void> {
    const missing = new Map<string, ColumnKey>();
    for (const p of pairs) {
      const k = key(p.tableOID, p.attnum);
      if (this.cache.has(k) || missing.has(k)) continue;
      if (!validOid(p.tableOID) || !validAttnum(p.attnum)) continue;
      missing.set(k, p);
    }
    const todo = [...missing.values()];
    for (let i = 0; i < todo.length; i += BATCH) {
      const batch = todo.slice(i, i + BATCH);
      // Literal integers only (validated above): nothing from the client reaches this text.
      const list = batch.map((p) => `(${p.tableOID}::oid,(${p.attnum})::int2)`).join(',');
      const sql =
        'SELECT c.oid, a.attnum, n.nspname, c.relname, a.attname FROM pg_catalog.pg_attribute a ' +
        'JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ' +
        `WHERE NOT a.attisdropped AND (c.oid, a.attnum) IN (${list})`;
      const conn = await this.connection();
      let result: Awaited<ReturnType<typeof simpleQuery>>;
      try {
        result = await simpleQuery(conn, sql);
      } catch (e) {
        if (!isUpstreamError(e, 'server-error')) {
          conn.socket.destroy();
          if (this.conn === conn) this.conn = undefined;
        }
        throw e;
      }
      for (const p of batch) this.cache.set(key(p.tableOID, p.attnum), null);
      for (const [oid, attnum, schema, table, column] of result.rows) {
        this.cache.set(key(Number(oid), Number(attnum)), { schema: schema!, table: table!, column: column! });
      }
    }
  }
}

/**
 * Parse (unnamed) + Describe (statement) + Sync on an idle side connection: the row shape of `sql`
 * without running it. null for a statement without rows (NoData). A server error rejects with
 * UpstreamError('server-error') once the server is ready again.
 */
export async function describeStatement(conn: UpstreamConnection, sql: string): Promise<FieldDescription[] | null> {
  const messages = new SocketMessages(conn.socket, conn.reader);
  try {
    const w = new MessageWriter(256 + sql.length * 3);
    writeParse(w, '', sql);
    writeDescribe(w, 'S', '');
    writeSync(w);
    conn.socket.write(w.flush());
    let fields: FieldDescription[] | null = null;
    let error: UpstreamError | undefined;
    for (;;) {
      const m = await messages.next();
      switch (m.code) {
        case BackendCode.RowDescription:
          fields = parseRowDescription(m.buffer, m.start, m.length);
          break;
        case BackendCode.ErrorResponse:
          error ??= serverError(parseErrorResponse(m.buffer, m.start, m.length));
          break;
        case BackendCode.ReadyForQuery:
          if (error) throw error;
          return fields;
        default:
          // ParseComplete, ParameterDescription, NoData, notices.
          break;
      }
    }
  } finally {
    messages.detach();
  }
}
