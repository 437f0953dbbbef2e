// The SQLite audit append: prepared statements on a better-sqlite3 handle in one synchronous
// BEGIN IMMEDIATE transaction per batch. Through kysely a commit costs several promise hops and a
// query compilation per row; here a batch of one costs tens of microseconds. BEGIN IMMEDIATE
// takes the database write lock against other connections (the writer thread's, other
// processes'), and the last hash is read inside it, so the chain stays one chain.
//
// Two callers: the writer thread (writer-thread.ts, a file database; rows arrive as flat field
// arrays, see FIELDS) and AuditLog itself for an in-memory database, which no other thread can
// open.
import type SqliteDatabase from 'better-sqlite3';
import type { AuditLogTable } from '../store/index.js';
import { chainHash, GENESIS_HASH } from './chain.js';

export type NewAuditRow = Omit<AuditLogTable, 'seq' | 'prev_hash' | 'hash'>;

/**
 * A batch as the writer thread receives it: FIELDS values per row, in this order. One flat array
 * of primitives per batch is the cheapest shape to post to another thread (no object per row to
 * clone).
 */
export type FlatRows = (string | number | null)[];
export const FIELDS = 7;
export const F_ID = 0;
export const F_AT = 1;
export const F_TYPE = 2;
export const F_ACTOR = 3;
export const F_SESSION = 4;
export const F_CONNECTION = 5;
export const F_DATA = 6;

/** What a committed batch got: its first seq, the hash before it, and each row's hash (64 hex chars each, concatenated). */
export interface ChainedBatch {
  firstSeq: number;
  prevHash: string;
  hashes: string;
}

export class SqliteAppender {
  private readonly last: SqliteDatabase.Statement<[], { seq: number; hash: string }>;
  private readonly insert: SqliteDatabase.Statement<
    [number, string, number, string, string | null, string | null, string | null, string, string, string]
  >;
  private readonly writeAll: SqliteDatabase.Transaction<(rows: NewAuditRow[]) => AuditLogTable[]>;
  private readonly writeFlatRows: SqliteDatabase.Transaction<(flat: FlatRows) => ChainedBatch>;

  constructor(private readonly database: SqliteDatabase.Database) {
    this.last = database.prepare('select seq, hash from audit_log order by seq desc limit 1');
    this.insert = database.prepare(
      'insert into audit_log (seq, id, at, type, actor, session, connection, data, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.writeAll = database.transaction((rows: NewAuditRow[]) => {
      const last = this.last.get();
      let seq = last ? Number(last.seq) : 0;
      let prev = last?.hash ?? GENESIS_HASH;
      const out: AuditLogTable[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        const hash = chainHash(prev, r, r.data);
        seq++;
        this.insert.run(seq, r.id, r.at, r.type, r.actor, r.session, r.connection, r.data, prev, hash);
        out[i] = { ...r, seq, prev_hash: prev, hash };
        prev = hash;
      }
      return out;
    });
    this.writeFlatRows = database.transaction((flat: FlatRows) => {
      const last = this.last.get();
      let seq = last ? Number(last.seq) : 0;
      const first = { firstSeq: seq + 1, prevHash: last?.hash ?? GENESIS_HASH };
      let prev = first.prevHash;
      let hashes = '';
      for (let i = 0; i < flat.length; i += FIELDS) {
        const row: NewAuditRow = {
          id: flat[i + F_ID] as string,
          at: flat[i + F_AT] as number,
          type: flat[i + F_TYPE] as string,
          actor: flat[i + F_ACTOR] as string | null,
          session: flat[i + F_SESSION] as string | null,
          connection: flat[i + F_CONNECTION] as string | null,
          data: flat[i + F_DATA] as string,
        };
        const hash = chainHash(prev, row, row.data);
        seq++;
        this.insert.run(seq, row.id, row.at, row.type, row.actor, row.session, row.connection, row.data, prev, hash);
        hashes += hash;
        prev = hash;
      }
      return { ...first, hashes };
    });
  }

  /**
   * Writes the rows in one transaction and returns them as stored; undefined when the shared
   * connection is inside someone else's (kysely) transaction, where a nested write would join
   * — and could be rolled back with — that transaction: the caller takes the async path then.
   */
  tryWrite(rows: NewAuditRow[]): AuditLogTable[] | undefined {
    if (this.database.inTransaction) return undefined;
    return this.writeAll.immediate(rows);
  }

  /** Writes a flat batch (FIELDS values per row) in one BEGIN IMMEDIATE transaction. */
  writeFlat(flat: FlatRows): ChainedBatch {
    return this.writeFlatRows.immediate(flat);
  }
}
