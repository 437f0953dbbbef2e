// The audit writer thread (started by writer.ts): its own better-sqlite3 connection to the
// store's file, the hash chain and the commit, off the gateway's event loop. Batches posted
// while a commit runs queue up in the port and go into the next transaction together, so under
// load one commit carries hundreds of entries. Replies come in commit order:
//   { n, firstSeq, prevHash, hashes }  the next n queued entries are durable
//   { n, error }                        the next n entries failed (their operations are refused)
// "close" drains what is queued, closes the database and ends the thread.
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { applySqliteSettings } from '../store/sqlite-settings.js';
import { FIELDS, type FlatRows, SqliteAppender } from './sqlite-append.js';

export interface WriterThreadData {
  path: string;
  /** Entries per transaction at most. */
  maxBatch: number;
}

export type WriterReply =
  | { n: number; firstSeq: number; prevHash: string; hashes: string }
  | { n: number; error: string; code?: string };

const port = parentPort;
if (!port) throw new Error('writer-thread.ts runs as a worker thread');
const { path, maxBatch } = workerData as WriterThreadData;

// The same settings as the store's own connection.
const database = new SqliteDatabase(path, { fileMustExist: true });
applySqliteSettings(database);
let appender: SqliteAppender | undefined;

let queue: FlatRows[] = [];
let scheduled = false;
let closing = false;

port.on('message', (msg: FlatRows | 'close') => {
  if (msg === 'close') closing = true;
  else queue.push(msg);
  if (!scheduled) {
    scheduled = true;
    // Let every message already in the port arrive first: they share the commit.
    setImmediate(commitQueued);
  }
});

function commitQueued(): void {
  scheduled = false;
  while (queue.length > 0) {
    const batch = takeBatch();
    port!.postMessage(commit(batch));
  }
  if (closing) {
    database.close();
    port!.close();
  }
}

/** Up to maxBatch entries from the front of the queue, as one flat array. */
function takeBatch(): FlatRows {
  const first = queue[0]!;
  if (queue.length === 1 && first.length <= maxBatch * FIELDS) {
    queue = [];
    return first;
  }
  let flat: FlatRows = [];
  while (queue.length > 0 && flat.length < maxBatch * FIELDS) {
    const next = queue[0]!;
    const room = maxBatch * FIELDS - flat.length;
    if (next.length <= room) {
      flat = flat.length === 0 ? next : flat.concat(next);
      queue.shift();
    } else {
      flat = flat.concat(next.slice(0, room));
      queue[0] = next.slice(room);
    }
  }
  return flat;
}

function commit(flat: FlatRows): WriterReply {
  const n = flat.length / FIELDS;
  try {
    // Prepared on first use: a failure (no table) is this batch's failure, not the thread's.
    appender ??= new SqliteAppender(database);
    return { n, ...appender.writeFlat(flat) };
  } catch (e) {
    const err = e as { message?: string; code?: string };
    return { n, error: String(err.message ?? e), ...(typeof err.code === 'string' ? { code: err.code } : {}) };
  }
}
