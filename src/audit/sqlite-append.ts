// The SQLite fast path of the audit append: prepared statements on the better-sqlite3 handle in
// one synchronous BEGIN IMMEDIATE transaction per batch. Through kysely a commit costs several
// promise hops and a query compilation per row; here a batch of one costs tens of microseconds.
// BEGIN IMMEDIATE still takes the database write lock against other processes, and the last
// hash is read inside it, so the chain stays one chain.
import type SqliteDatabase from 'better-sqlite3';
import type { AuditLogTable } from '../store/index.js';
import { chainHash, GENESIS_HASH } from './chain.js';

export type NewAuditRow = Omit<AuditLogTable, 'seq' | 'prev_hash' | 'hash'>;

export class SqliteAppender {
  private readonly last: SqliteDatabase.Statement<[], { seq: number; hash: string }>;
  private readonly insert: SqliteDatabase.Statement<
    [number, string, number, string, string | null, string | null, string | null, string, string, string]
  >;
  private readonly writeAll: SqliteDatabase.Transaction<(rows: NewAuditRow[]) => AuditLogTable[]>;

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
}
