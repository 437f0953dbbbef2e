// The audit journal (a SQLite file store under `warden start`): audit entries are made durable by
// one write(2) per event-loop turn to this process's journal file — which a crash of the process
// (kill -9) cannot undo, as with a SQLite commit at synchronous=NORMAL — and moved into audit_log
// (chained and hashed there) in large transactions: when the log in this process is read, when an
// append wants its record, at INGEST_ROWS pending, after INGEST_MS, and at close. Measured here: a
// SQLite transaction of one to three rows costs 46–75 µs, a journal write ~3 µs, and a row in a
// transaction of a hundred ~7 µs.
//
// A journal belongs to one gateway instance: `<instance>.<n>.jsonl` in the `<store file>.audit`
// folder. Its audit_journals row says how many of its bytes are in audit_log and is updated in the
// same transaction as the rows, so an entry is never inserted twice and never skipped: a journal
// that outlived its process is moved in by the next start (recoverJournals), from where its row
// says, then deleted (its row stays, with the bytes moved in).
//
// A line is the JSON array [id, at, type, actor, session, connection, data], `data` being the
// entry's canonical text as it is (it is JSON): what is hashed when it is moved in is the text
// that was written.
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { WardenError } from '../core/errors.js';
import { jsonNumber, jsonString, jsonStringOrNull } from '../core/json-string.js';
import {
  type ChainedBatch,
  F_ACTOR,
  F_AT,
  F_CONNECTION,
  F_DATA,
  F_ID,
  F_SESSION,
  F_TYPE,
  FIELDS,
  type FlatRows,
  flatten,
  type PendingRow,
  type SqliteAppender,
} from './sqlite-append.js';

/** A journal is replaced by a new file once this much of it is in audit_log. */
const ROTATE_BYTES = 8 * 1024 * 1024;
/** Rows per transaction when moving a journal in. */
const INGEST_BATCH = 1000;
/** Entries waiting to be moved in beyond which appends are refused (audit_log cannot be written). */
const MAX_PENDING = 100_000;
/** Bytes read at a time when recovering a journal. */
const READ_CHUNK = 1024 * 1024;

/** The folder of a SQLite store file's journals. */
export function journalFolder(databaseFile: string): string {
  return `${databaseFile}.audit`;
}

/** What a transaction moved in: the entries (in order) and their chain. */
export interface Moved {
  rows: PendingRow[];
  chained: ChainedBatch;
}

/** The audit_journals statements, shared by the live journal and recovery. */
class Progress {
  private readonly get: SqliteDatabase.Statement<[string], { bytes: number }>;
  private readonly put: SqliteDatabase.Statement<[string, number]>;
  private readonly del: SqliteDatabase.Statement<[string]>;

  constructor(database: SqliteDatabase.Database) {
    this.get = database.prepare('select bytes from audit_journals where name = ?');
    this.put = database.prepare(
      'insert into audit_journals (name, bytes) values (?, ?) on conflict (name) do update set bytes = excluded.bytes',
    );
    this.del = database.prepare('delete from audit_journals where name = ?');
  }

  bytes(name: string): number {
    return Number(this.get.get(name)?.bytes ?? 0);
  }

  set(name: string, bytes: number): void {
    this.put.run(name, bytes);
  }

  remove(name: string): void {
    this.del.run(name);
  }
}

export class AuditJournal {
  private readonly progress: Progress;
  private readonly move: SqliteDatabase.Transaction<(rows: PendingRow[], ends: number[]) => Moved | undefined>;
  private generation = 0;
  private name = '';
  private fd = -1;
  /** Bytes written to the current file. */
  private written = 0;
  /** Written and not yet known to be in audit_log, in order, with the file offset after each. */
  private pending: PendingRow[] = [];
  private ends: number[] = [];
  /** A failed write could not be cut off: nothing more is written to this file. */
  private broken = false;

  constructor(
    database: SqliteDatabase.Database,
    private readonly appender: SqliteAppender,
    private readonly folder: string,
    private readonly instance: string,
  ) {
    this.progress = new Progress(database);
    this.move = database.transaction((rows: PendingRow[], ends: number[]) => {
      // Another process may have moved some in (recovering a journal it took for an orphan).
      const already = this.progress.bytes(this.name);
      let from = 0;
      while (from < rows.length && ends[from]! <= already) from++;
      if (from === rows.length) return undefined;
      const moved = from === 0 ? rows : rows.slice(from);
      const chained = this.appender.appendRows(flatten(moved, 0, moved.length));
      this.progress.set(this.name, ends[ends.length - 1]!);
      return { rows: moved, chained };
    });
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    this.open();
  }

  get pendingRows(): number {
    return this.pending.length;
  }

  /** Appends the batch in one write; throws (nothing of it written) when it cannot. */
  write(batch: readonly PendingRow[]): void {
    if (this.pending.length + batch.length > MAX_PENDING)
      throw new WardenError('WARDEN_AUDIT_WRITE_FAILED', 'the audit log cannot be written; entries are waiting');
    if (this.broken) throw new WardenError('WARDEN_AUDIT_WRITE_FAILED', 'the audit journal cannot be written');
    const ends: number[] = new Array(batch.length);
    let text = '';
    for (let i = 0; i < batch.length; i++) {
      text += journalLine(batch[i]!);
      ends[i] = text.length;
    }
    const bytes = Buffer.from(text);
    // Byte offsets: the characters' counts when the text is all ASCII (as many bytes as
    // characters), else each line's UTF-8 length.
    if (bytes.length === text.length) for (let i = 0; i < ends.length; i++) ends[i]! += this.written;
    else {
      let end = this.written;
      let from = 0;
      for (let i = 0; i < ends.length; i++) {
        end += Buffer.byteLength(text.slice(from, ends[i]));
        from = ends[i]!;
        ends[i] = end;
      }
    }
    const at = this.written + bytes.length;
    let off = 0;
    try {
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off, this.written + off);
    } catch (err) {
      // A part written is cut off again, so the file stays whole lines of acknowledged entries.
      try {
        ftruncateSync(this.fd, this.written);
      } catch {
        this.broken = true;
      }
      throw new WardenError('WARDEN_AUDIT_WRITE_FAILED', undefined, { cause: err });
    }
    this.written = at;
    for (let i = 0; i < batch.length; i++) {
      this.pending.push(batch[i]!);
      this.ends.push(ends[i]!);
    }
  }

  /** Written and not yet in audit_log, in order. */
  get waiting(): readonly PendingRow[] {
    return this.pending;
  }

  /**
   * Moves what is pending into audit_log, INGEST_BATCH rows per transaction, calling `moved` after
   * each commit. Throws when the store cannot be written (what is left stays pending).
   */
  ingest(moved: (m: Moved) => void): void {
    while (this.pending.length > 0) {
      const n = Math.min(this.pending.length, INGEST_BATCH);
      const rows = this.pending.slice(0, n);
      const ends = this.ends.slice(0, n);
      const m = this.move.immediate(rows, ends);
      this.appender.committed();
      this.pending.splice(0, n);
      this.ends.splice(0, n);
      if (m) moved(m);
      // Moved in by a process that took this journal for an orphan: no record to give.
      const skipped = n - (m?.rows.length ?? 0);
      for (let i = 0; i < skipped; i++)
        if (rows[i]!.record)
          rows[i]!.reject(new WardenError('WARDEN_AUDIT_WRITE_FAILED', 'moved into the audit log by another process'));
    }
    if (this.written >= ROTATE_BYTES) this.rotate();
  }

  /** Moves everything in and deletes the file (the process is stopping); throws as ingest(). */
  close(moved: (m: Moved) => void): void {
    this.ingest(moved);
    this.retire();
  }

  /** Stops writing, leaving the file for the next start to move in. */
  abandon(): void {
    closeSync(this.fd);
    this.broken = true;
  }

  private open(): void {
    this.generation++;
    this.name = `${this.instance}.${this.generation}.jsonl`;
    this.fd = openSync(join(this.folder, this.name), 'wx', 0o600);
    this.written = 0;
  }

  /** All of the current file is in audit_log: it is deleted, and its row after it (never before:
   * a file without its row would be moved in again). */
  private retire(): void {
    closeSync(this.fd);
    try {
      unlinkSync(join(this.folder, this.name));
    } catch (err) {
      // Moved in and deleted by a process that took it for an orphan: nothing left to delete.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.progress.remove(this.name);
  }

  private rotate(): void {
    this.retire();
    this.open();
  }
}

/** One journal line, as written. */
function journalLine(p: PendingRow): string {
  const r = p.row;
  // JSON.stringify([id, at, type, actor, session, connection]) and the data, written out by hand.
  return `[${jsonString(r.id)},${jsonNumber(r.at)},${jsonString(r.type)},${jsonStringOrNull(r.actor)},${jsonStringOrNull(r.session)},${jsonStringOrNull(r.connection)},${r.data}]\n`;
}

/** What recoverJournals did. */
export interface Recovered {
  journals: number;
  entries: number;
  /** Journals with a line that is not an entry: renamed `.corrupt` after the entries before it. */
  corrupt: string[];
}

/**
 * Moves in, then deletes, the journals in `folder` that `orphan(instance)` says outlived their
 * process (a journal's instance is its name up to the first dot). Each resumes where its
 * audit_journals row says; a last line without its newline was never acknowledged and is dropped.
 */
export function recoverJournals(
  database: SqliteDatabase.Database,
  appender: SqliteAppender,
  folder: string,
  orphan: (instance: string) => boolean,
): Recovered {
  const out: Recovered = { journals: 0, entries: 0, corrupt: [] };
  let names: string[];
  try {
    names = readdirSync(folder).filter((n) => n.endsWith('.jsonl'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  const progress = new Progress(database);
  const move = database.transaction((name: string, expect: number, flat: FlatRows, end: number) => {
    // Two processes recovering the same journal: the second finds the bytes already moved.
    if (progress.bytes(name) !== expect) return false;
    appender.appendRows(flat);
    progress.set(name, end);
    return true;
  });
  for (const name of names) {
    if (!orphan(name.slice(0, name.indexOf('.')))) continue;
    const path = join(folder, name);
    out.journals++;
    let at = progress.bytes(name);
    let flat: FlatRows = [];
    let end = at;
    const flush = () => {
      if (flat.length === 0) return;
      if (move.immediate(name, at, flat, end)) {
        appender.committed();
        out.entries += flat.length / FIELDS;
      }
      at = end;
      flat = [];
    };
    const bad = !forEachLine(path, at, (line, after) => {
      const fields = parseLine(line);
      if (!fields) return false;
      for (const f of fields) flat.push(f);
      end = after;
      if (flat.length >= INGEST_BATCH * FIELDS) flush();
      return true;
    });
    flush();
    if (bad) {
      renameSync(path, `${path}.corrupt`);
      out.corrupt.push(name);
    } else unlinkSync(path);
    // The row stays: were the journal's process alive after all (two gateways on one file), its
    // next move skips what was moved here.
    progress.set(name, at);
  }
  return out;
}

/**
 * Calls `line` with each whole line of the file from byte `from` on and the offset after it, read
 * READ_CHUNK bytes at a time (a journal that grew while audit_log refused writes can be tens of
 * MB); stops at a torn last line (never acknowledged) or when `line` returns false (then false).
 */
function forEachLine(path: string, from: number, line: (text: string, after: number) => boolean): boolean {
  const fd = openSync(path, 'r');
  try {
    // One read buffer for the whole file: what a read leaves unfinished is copied out (carry).
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    let carry = Buffer.alloc(0);
    let base = from; // file offset of carry[0]
    for (;;) {
      const n = readSync(fd, chunk, 0, READ_CHUNK, base + carry.length);
      if (n === 0) return true;
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, start)) {
        if (!line(buf.toString('utf8', start, nl), base + nl + 1)) return false;
        start = nl + 1;
      }
      carry = Buffer.from(buf.subarray(start));
      base += start;
    }
  } finally {
    closeSync(fd);
  }
}

/** The FIELDS values of one journal line, or undefined when it is not one. */
export function parseLine(line: string): FlatRows | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== FIELDS) return undefined;
  const [id, at, type, actor, session, connection, data] = v as unknown[];
  const text = (x: unknown) => typeof x === 'string';
  const optional = (x: unknown) => x === null || typeof x === 'string';
  if (!text(id) || typeof at !== 'number' || !text(type) || !optional(actor) || !optional(session)) return undefined;
  if (!optional(connection) || typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  // `data` as written: what follows the other fields, as JSON.stringify writes them.
  const head = JSON.stringify([id, at, type, actor, session, connection]);
  const prefix = `${head.slice(0, -1)},`;
  if (!line.startsWith(prefix) || !line.endsWith(']')) return undefined;
  const flat: FlatRows = new Array(FIELDS);
  flat[F_ID] = id as string;
  flat[F_AT] = at;
  flat[F_TYPE] = type as string;
  flat[F_ACTOR] = actor as string | null;
  flat[F_SESSION] = session as string | null;
  flat[F_CONNECTION] = connection as string | null;
  flat[F_DATA] = line.slice(prefix.length, -1);
  return flat;
}
