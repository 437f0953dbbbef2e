// The audit log. Every decision in the data path is appended here, so appends are
// group-committed: entries arriving while the event loop turns are written in one transaction,
// and entries arriving during a write go in the next one. Writers in other gateway processes
// sharing the store are excluded by the database write lock (SQLite: BEGIN IMMEDIATE) or an
// advisory lock (PostgreSQL), and the last hash is read inside the lock, so all processes extend
// one chain.
//
// SQLite is written synchronously on this thread with prepared statements (sqlite-append.ts), or,
// for a file store with `writerThread` (WARDEN_AUDIT_THREAD=1), by a writer thread with its own
// connection (writer.ts, writer-thread.ts): hashing, the chain and the commit then run off the
// event loop, which only enqueues. Under `warden start` a SQLite file store takes the journal
// (useJournal, journal.ts): entries are durable once written to this process's journal file and
// reach audit_log in large transactions, before any read of the log here. kysely remains the
// path for PostgreSQL.
import type { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { type Clock, systemClock } from '../core/clock.js';
import { WardenError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { AuditLogTable, Database, Store } from '../store/index.js';
import { canonicalJsonWithoutSecrets } from './canonical.js';
import { chainHash, GENESIS_HASH } from './chain.js';
import { AuditJournal, journalFolder, type Moved, type Recovered, recoverJournals } from './journal.js';
import { type AuditEntry, type AuditRecord, lazyRecordFromRow, recordFromRow } from './record.js';
import { type ChainedBatch, flatten, type PendingRow, resolveChained, SqliteAppender } from './sqlite-append.js';
import { newBuckets, reachesPast, seqLowerBound } from './time-index.js';
import { type VerifyResult, verifyChain } from './verify.js';
import { AuditWriter } from './writer.js';

/** Entries per transaction; later arrivals wait for the next one. */
const MAX_BATCH = 1000;
/** Rows per INSERT statement (10 parameters each). */
const ROWS_PER_INSERT = 100;
const LOCK = 'audit_log';
/** Journal: entries pending beyond which they are moved in at once, and the longest they wait. */
const INGEST_ROWS = 512;
const INGEST_MS = 10;
/** Journal: the wait before trying again after audit_log could not be written. */
const RETRY_MS = 250;

export class AuditLog {
  private readonly clock: Clock;
  private queue: PendingRow[] = [];
  private running: Promise<void> | undefined;
  /** Prepared on first use (the table may not exist before migrations in odd setups). */
  private sqliteAppender: SqliteAppender | undefined;
  private committed = { batches: 0, entries: 0 };
  /** SQLite file stores: the writer thread, started on the first append. */
  private writer: AuditWriter | undefined;
  private writerChosen = false;
  /** The async (kysely) path's largest audit_log_times bucket known committed. */
  private knownBucket = -Infinity;
  private journal: AuditJournal | undefined;
  private journalTimer: NodeJS.Timeout | undefined;
  private onJournalError: ((err: unknown) => void) | undefined;

  constructor(
    private readonly store: Store,
    opts: {
      clock?: Clock;
      /** SQLite file stores: commit in the writer thread (true) or on this thread (default: WARDEN_AUDIT_THREAD=1 → thread). */
      writerThread?: boolean;
    } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    // Off unless asked for (WARDEN_AUDIT_THREAD=1): measured on the shared 2-core machine, the
    // thread raises c=8 simple-query throughput (~1.2×) and lowers event-loop CPU, but every
    // statement that awaits its entry (extended protocol, writes, HTTP) pays two thread
    // hand-offs, which on an oversubscribed machine wait for a core (prepared c=1 ~0.5×, HTTP
    // p99 stalls). README "Performance" has the figures.
    const thread = opts.writerThread ?? process.env.WARDEN_AUDIT_THREAD === '1';
    if (!thread) this.writerChosen = true;
  }

  /**
   * Appends one entry. Resolves once it is committed; rejects with WARDEN_AUDIT_WRITE_FAILED
   * when it is not, so the caller can refuse the operation (fail closed).
   */
  append(entry: AuditEntry): Promise<AuditRecord> {
    return this.enqueue(entry, true) as Promise<AuditRecord>;
  }

  /**
   * Appends one entry; resolves, with nothing, once it is durable (with the journal: written to
   * it; else committed). The data path's appends: nothing waits for a record, so none is made.
   */
  appendDurable(entry: AuditEntry): Promise<void> {
    return this.enqueue(entry, false) as Promise<void>;
  }

  /**
   * Takes the journal (a writable SQLite file store; not with the writer thread) for this
   * gateway instance, after moving in the journals that outlived their process: `'all'` but this
   * instance's (the store's only gateway starting), or those of the instances listed (a worker
   * started again: its predecessor). Returns what was recovered; undefined when the store has no
   * journal.
   */
  useJournal(
    instance: string,
    orphans: 'all' | readonly string[],
    onError?: (err: unknown) => void,
  ): Recovered | undefined {
    const database = this.store.sqlite;
    if (!database || database.memory || database.readonly || this.writer || !this.writerChosen) return undefined;
    if (this.journal) throw new Error('the audit journal is already in use');
    if (!/^[\w-]+$/.test(instance)) throw new Error(`not an instance id: ${instance}`);
    this.sqliteAppender ??= new SqliteAppender(database);
    const folder = journalFolder(database.name);
    const recovered = recoverJournals(database, this.sqliteAppender, folder, (name) =>
      orphans === 'all' ? name !== instance : orphans.includes(name),
    );
    this.committed.entries += recovered.entries;
    this.journal = new AuditJournal(database, this.sqliteAppender, folder, instance);
    this.onJournalError = onError;
    return recovered;
  }

  private enqueue(entry: AuditEntry, record: boolean): Promise<AuditRecord | undefined> {
    if (typeof entry?.type !== 'string' || entry.type === '') throw new TypeError('audit entry needs a type');
    const at = this.clock.now();
    const row = {
      id: newId('au', at),
      at,
      type: entry.type,
      actor: entry.actor ?? null,
      session: entry.session ?? null,
      connection: entry.connection ?? null,
      data: canonicalJsonWithoutSecrets(entry.data ?? {}),
    };
    const writer = this.writerChosen ? this.writer : this.startWriter();
    return new Promise<AuditRecord | undefined>((resolve, reject) => {
      const pending: PendingRow = { row, record, resolve, reject };
      if (writer) writer.enqueue(pending);
      else {
        this.queue.push(pending);
        this.schedule();
      }
    });
  }

  /** Drains every pending append and stops the writer thread (a later append starts it again). */
  async close(): Promise<void> {
    await this.flush();
    await this.writer?.close();
    const journal = this.journal;
    if (journal) {
      this.journal = undefined;
      clearTimeout(this.journalTimer);
      try {
        journal.close(this.settleMoved);
      } catch (e) {
        // The file stays, with what could not be moved in: the next start moves it in.
        this.failWaiting(journal, e);
        journal.abandon();
      }
    }
  }

  private startWriter(): AuditWriter | undefined {
    this.writerChosen = true;
    const database = this.store.sqlite;
    if (!database || database.memory || database.readonly) return undefined;
    this.writer = new AuditWriter(database.name, MAX_BATCH, (entries) => {
      this.committed.batches++;
      this.committed.entries += entries;
    });
    return this.writer;
  }

  /** Transactions committed and entries in them, since this log was created (group-commit effect). */
  get commits(): { batches: number; entries: number } {
    return { ...this.committed };
  }

  /** Resolves when every entry appended so far is committed or rejected. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    await this.writer?.flush();
    // Inside someone's transaction on the shared connection the journal waits its turn; when
    // audit_log cannot be written what waits stays in the journal (the timer tries again).
    while (this.ingestJournal() === 'busy') await new Promise((r) => setTimeout(r, 1));
  }

  /** Entries in seq order. `since` is epoch ms (inclusive); `afterSeq` pages on. */
  async list(q: { since?: number; afterSeq?: number; limit?: number; type?: string } = {}): Promise<AuditRecord[]> {
    await this.journalIn();
    let since: { at: number; fromSeq: number } | undefined;
    if (q.since !== undefined) {
      const fromSeq = await seqLowerBound(this.store.db, q.since);
      if (fromSeq === undefined) return [];
      since = { at: q.since, fromSeq };
    }
    const rows = await this.store.db
      .selectFrom('audit_log')
      .selectAll()
      .$if(since !== undefined, (qb) => qb.where('seq', '>=', since!.fromSeq).where('at', '>=', since!.at))
      .$if(q.afterSeq !== undefined, (qb) => qb.where('seq', '>', q.afterSeq as number))
      .$if(q.type !== undefined, (qb) => qb.where('type', '=', q.type as string))
      .orderBy('seq', 'asc')
      .limit(q.limit ?? 1000)
      .execute();
    return rows.map(recordFromRow);
  }

  async verify(): Promise<VerifyResult> {
    await this.journalIn();
    return verifyChain(this.store.db);
  }

  /** Writes every entry as one JSON line, in seq order, honouring back-pressure. */
  async exportJsonl(out: NodeJS.WritableStream): Promise<number> {
    let afterSeq = 0;
    let count = 0;
    for (;;) {
      const page = await this.list({ afterSeq, limit: 1000 });
      for (const rec of page) {
        if (!out.write(`${JSON.stringify(rec)}\n`)) await drained(out as Writable);
        count++;
      }
      if (page.length < 1000) return count;
      afterSeq = page[page.length - 1]!.seq;
    }
  }

  /** SQLite: the batch written synchronously; undefined when the async path must be taken. */
  private writeSync(batch: PendingRow[]): ChainedBatch | undefined {
    const database = this.store.sqlite;
    if (!database) return undefined;
    this.sqliteAppender ??= new SqliteAppender(database);
    return this.sqliteAppender.tryWriteFlat(flatten(batch, 0, batch.length));
  }

  private schedule(): void {
    if (this.running) return;
    // Wait for the rest of this turn of the event loop, so concurrent appends share a commit.
    this.running = new Promise<void>((r) => setImmediate(r)).then(() => this.drain());
  }

  private async drain(): Promise<void> {
    for (;;) {
      // Checked and cleared synchronously, so an append can never slip between the two.
      if (this.queue.length === 0) {
        this.running = undefined;
        return;
      }
      const batch = this.queue.splice(0, MAX_BATCH);
      if (this.journal) {
        this.toJournal(this.journal, batch);
        continue;
      }
      try {
        const chained = this.writeSync(batch);
        if (chained) resolveChained(batch, 0, batch.length, chained);
        else {
          const { rows, bucketMax } = await this.store.exclusive(LOCK, (db) => writeBatch(db, batch, this.knownBucket));
          this.knownBucket = bucketMax;
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve(lazyRecordFromRow(rows[i]!));
        }
        this.committed.batches++;
        this.committed.entries += batch.length;
      } catch (e) {
        const err = new WardenError('WARDEN_AUDIT_WRITE_FAILED', undefined, { cause: e });
        for (const p of batch) p.reject(err);
      }
    }
  }

  /** Journal: the batch written (settling what needs no record), moved in now or soon. */
  private toJournal(journal: AuditJournal, batch: PendingRow[]): void {
    try {
      journal.write(batch);
    } catch (e) {
      const err = e instanceof WardenError ? e : new WardenError('WARDEN_AUDIT_WRITE_FAILED', undefined, { cause: e });
      for (const p of batch) p.reject(err);
      return;
    }
    let records = false;
    for (const p of batch) {
      if (p.record) records = true;
      else p.resolve(undefined);
    }
    const moved = records || journal.pendingRows >= INGEST_ROWS ? this.ingestJournal() : 'busy';
    if (moved !== 'done') this.scheduleIngest(moved === 'failed' ? RETRY_MS : INGEST_MS);
  }

  /** Readers in this process see every entry appended before they asked. */
  private async journalIn(): Promise<void> {
    if (this.journal) await this.flush();
  }

  private scheduleIngest(ms: number): void {
    if (this.journalTimer) return;
    this.journalTimer = setTimeout(() => {
      this.journalTimer = undefined;
      const moved = this.ingestJournal();
      if (moved !== 'done') this.scheduleIngest(moved === 'failed' ? RETRY_MS : 1);
    }, ms);
    // The journal holds what waits: an idle process is not kept alive for it (close() moves it in).
    this.journalTimer.unref();
  }

  /**
   * Moves the journal's pending entries into audit_log: `busy` when it cannot now (the shared
   * connection is inside another transaction, which a write would join), `failed` when the write
   * failed (the entries stay in the journal; those waiting for their record are refused).
   */
  private ingestJournal(): 'done' | 'busy' | 'failed' {
    const journal = this.journal;
    if (!journal || journal.pendingRows === 0) return 'done';
    if (this.store.sqlite?.inTransaction) return 'busy';
    try {
      journal.ingest(this.settleMoved);
    } catch (e) {
      this.failWaiting(journal, e);
      return 'failed';
    }
    return 'done';
  }

  private failWaiting(journal: AuditJournal, e: unknown): void {
    const err = new WardenError('WARDEN_AUDIT_WRITE_FAILED', undefined, { cause: e });
    for (const p of journal.waiting) if (p.record) p.reject(err);
    this.onJournalError?.(e);
  }

  private readonly settleMoved = (m: Moved): void => {
    resolveChained(m.rows, 0, m.rows.length, m.chained);
    this.committed.batches++;
    this.committed.entries += m.rows.length;
  };
}

async function writeBatch(
  db: Kysely<Database>,
  batch: PendingRow[],
  knownBucket: number,
): Promise<{ rows: AuditLogTable[]; bucketMax: number }> {
  const last = await db
    .selectFrom('audit_log')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  let seq = last ? Number(last.seq) : 0;
  let prev = last?.hash ?? GENESIS_HASH;
  const rows: AuditLogTable[] = batch.map(({ row }) => {
    const hash = chainHash(prev, row, row.data);
    const full = { ...row, seq: ++seq, prev_hash: prev, hash };
    prev = hash;
    return full;
  });
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await db
      .insertInto('audit_log')
      .values(rows.slice(i, i + ROWS_PER_INSERT))
      .execute();
  }
  let known = knownBucket;
  if (reachesPast(known, rows.length, (i) => rows[i]!.at)) {
    // Past what this process knew: read how far the table is, under the lock.
    const top = await db
      .selectFrom('audit_log_times')
      .select((eb) => eb.fn.max('bucket').as('bucket'))
      .executeTakeFirst();
    known = Math.max(known, top?.bucket == null ? -Infinity : Number(top.bucket));
  }
  const buckets = newBuckets(
    known,
    rows.length,
    (i) => rows[i]!.at,
    (i) => rows[i]!.seq,
  );
  if (buckets.rows.length > 0) await db.insertInto('audit_log_times').values(buckets.rows).execute();
  return { rows, bucketMax: buckets.max };
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      out.off('error', onError);
      resolve();
    };
    const onError = (e: Error) => {
      out.off('drain', onDrain);
      reject(e);
    };
    out.once('drain', onDrain);
    out.once('error', onError);
  });
}
