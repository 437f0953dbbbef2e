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
import { type AuditRecord, appendedRecord } from './record.js';
import { newBuckets, reachesPast } from './time-index.js';

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

/** An entry waiting for its commit: the row to write and how to settle its append. */
export interface PendingRow {
  row: NewAuditRow;
  /** Whether the append resolves with its record (false: with nothing, once durable). */
  record: boolean;
  resolve(r: AuditRecord | undefined): void;
  reject(e: unknown): void;
}

export class SqliteAppender {
  private readonly last: SqliteDatabase.Statement<[], { seq: number; hash: string }>;
  private readonly insert: SqliteDatabase.Statement<
    [number, string, number, string, string | null, string | null, string | null, string, string, string]
  >;
  private readonly maxBucket: SqliteDatabase.Statement<[], { bucket: number | null }>;
  private readonly insertBucket: SqliteDatabase.Statement<[number, number]>;
  private readonly writeFlatRows: SqliteDatabase.Transaction<(flat: FlatRows) => ChainedBatch>;
  /** The largest audit_log_times bucket known committed (the table's only grows). */
  private knownBucket = -Infinity;
  /** The largest bucket once the running transaction commits. */
  private txBucket = -Infinity;

  constructor(private readonly database: SqliteDatabase.Database) {
    this.last = database.prepare('select seq, hash from audit_log order by seq desc limit 1');
    this.insert = database.prepare(
      'insert into audit_log (seq, id, at, type, actor, session, connection, data, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.maxBucket = database.prepare('select max(bucket) as bucket from audit_log_times');
    this.insertBucket = database.prepare('insert into audit_log_times (bucket, first_seq) values (?, ?)');
    this.writeFlatRows = database.transaction((flat: FlatRows) => this.appendRows(flat));
  }

  /**
   * Chains and inserts a flat batch; the caller's transaction (BEGIN IMMEDIATE: the last hash is
   * read under the write lock) must be open, and committed() called once it has committed.
   */
  appendRows(flat: FlatRows): ChainedBatch {
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
    const n = flat.length / FIELDS;
    const atOf = (k: number) => flat[k * FIELDS + F_AT] as number;
    let known = this.knownBucket;
    // Past what this writer knew: another process may have gone further (read under the lock).
    if (reachesPast(known, n, atOf)) known = Math.max(known, Number(this.maxBucket.get()?.bucket ?? -Infinity));
    const buckets = newBuckets(known, n, atOf, (k) => first.firstSeq + k);
    for (const b of buckets.rows) this.insertBucket.run(b.bucket, b.first_seq);
    this.txBucket = buckets.max;
    return { ...first, hashes };
  }

  /** The transaction that ran appendRows committed (a rolled-back batch's buckets were never written). */
  committed(): void {
    this.knownBucket = this.txBucket;
  }

  /**
   * Writes the flat batch in one transaction; undefined when the shared connection is inside
   * someone else's (kysely) transaction, where a nested write would join — and could be rolled
   * back with — that transaction: the caller takes the async path then.
   */
  tryWriteFlat(flat: FlatRows): ChainedBatch | undefined {
    if (this.database.inTransaction) return undefined;
    return this.writeFlat(flat);
  }

  /** Writes a flat batch (FIELDS values per row) in one BEGIN IMMEDIATE transaction. */
  writeFlat(flat: FlatRows): ChainedBatch {
    const chained = this.writeFlatRows.immediate(flat);
    this.committed();
    return chained;
  }
}

/** Entries [start, end) as one flat array (FIELDS values each). */
export function flatten(entries: readonly PendingRow[], start: number, end: number): FlatRows {
  const flat: FlatRows = new Array((end - start) * FIELDS);
  let k = 0;
  for (let j = start; j < end; j++) {
    const r = entries[j]!.row;
    flat[k++] = r.id;
    flat[k++] = r.at;
    flat[k++] = r.type;
    flat[k++] = r.actor;
    flat[k++] = r.session;
    flat[k++] = r.connection;
    flat[k++] = r.data;
  }
  return flat;
}

const HASH_HEX = 64;

/** Resolves entries [start, end), committed as `chained`: with their records, where they want them. */
export function resolveChained(
  entries: readonly PendingRow[],
  start: number,
  end: number,
  chained: ChainedBatch,
): void {
  const { firstSeq, hashes } = chained;
  for (let i = start; i < end; i++) {
    const p = entries[i]!;
    if (!p.record) {
      p.resolve(undefined);
      continue;
    }
    const k = i - start;
    const prev = k === 0 ? chained.prevHash : hashes.slice((k - 1) * HASH_HEX, k * HASH_HEX);
    p.resolve(appendedRecord(p.row, firstSeq + k, prev, hashes.slice(k * HASH_HEX, (k + 1) * HASH_HEX)));
  }
}
