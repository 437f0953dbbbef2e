// WAL checkpoints of a SQLite file store, off the event loop. SQLite's automatic checkpoint runs
// inside the commit that crosses 1,000 WAL pages, on the committing connection: for the audit
// log that is the event loop, every few hundred statements, copying pages and syncing the file
// twice (measured on the 2-core VM: a single-row commit 82–96 µs with it, 39–53 µs without; the
// checkpointing commit itself stalls the loop for milliseconds). So the store's connection does
// not checkpoint (wal_autocheckpoint = 0) and this asks a thread to (wal-checkpoint-thread.ts):
// every COMMITS_PER_CHECKPOINT commits the audit log reports, and from a slow timer for the
// store's other writes. The thread starts at the first checkpoint, so an idle gateway never pays
// for it (~4 MB). If it fails, the connection checkpoints for itself again (fail safe: the WAL
// must not grow without bound). Closing the store's last connection checkpoints as before.
import { statSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';
import { startModuleThread } from '../core/module-thread.js';
import type { CheckpointReply, CheckpointThreadData } from './wal-checkpoint-thread.js';

/** ~2–3 WAL pages per audit commit: about SQLite's own 1,000-page interval. */
const COMMITS_PER_CHECKPOINT = 400;
/** Past this the thread restarts the WAL (16 MB of 4 KiB pages). */
const RESTART_FRAMES = 4096;
/** The timer's check for writes the audit log does not report (sessions, reviews, …). */
const CHECK_MS = 5000;
const CHECK_BYTES = 4 * 1048576;
const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000;

export class WalCheckpointer {
  private worker: Worker | undefined;
  private exited: Promise<void> | undefined;
  private commits = 0;
  private inflight = false;
  private again = false;
  private failed = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  /** Checkpoints done and WAL restarts, for tests and the curious. */
  readonly stats = { checkpoints: 0, restarts: 0, lastLog: 0 };

  constructor(
    private readonly database: SqliteDatabase.Database,
    private readonly path: string,
  ) {
    database.pragma('wal_autocheckpoint = 0');
    this.timer = setInterval(() => this.checkSize(), CHECK_MS);
    this.timer.unref();
  }

  /** One commit on the store's connection (the audit log reports each). */
  committed(): void {
    if (++this.commits < COMMITS_PER_CHECKPOINT) return;
    this.commits = 0;
    this.request();
  }

  /** Asks for a checkpoint; one runs at a time, and requests while it runs make one more. */
  request(): void {
    if (this.closed || this.failed) return;
    if (this.inflight) {
      this.again = true;
      return;
    }
    this.inflight = true;
    this.ensureWorker().postMessage('checkpoint');
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    // Held alive until the thread has closed its connection.
    worker.ref();
    worker.postMessage('close');
    await this.exited;
  }

  private checkSize(): void {
    try {
      if (statSync(`${this.path}-wal`).size > CHECK_BYTES) this.request();
    } catch {
      // No WAL file (nothing written since the last close): nothing to checkpoint.
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const data: CheckpointThreadData = { path: this.path, restartFrames: RESTART_FRAMES };
    const worker = startModuleThread(import.meta.url, 'wal-checkpoint-thread', {
      workerData: data,
      // A loop around one prepared pragma: keep its heap small.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    // Never what keeps a process alive: an interrupted checkpoint is harmless.
    worker.unref();
    worker.on('message', (reply: CheckpointReply) => this.onReply(reply));
    worker.on('error', (e) => this.fail(e.message));
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.once('exit', () => {
      if (this.worker === worker) this.fail('the checkpoint thread exited');
    });
    this.worker = worker;
    return worker;
  }

  private onReply(reply: CheckpointReply): void {
    this.inflight = false;
    if ('error' in reply) {
      // Busy or locked now and then is expected (another process checkpointing): try again later.
      this.again = false;
      return;
    }
    this.stats.checkpoints++;
    if (reply.restarted) this.stats.restarts++;
    this.stats.lastLog = reply.log;
    if (this.again) {
      this.again = false;
      this.request();
    }
  }

  private fail(reason: string): void {
    if (this.closed || this.failed) return;
    this.failed = true;
    this.inflight = false;
    this.worker = undefined;
    try {
      this.database.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`);
    } catch {
      // The connection is closing.
    }
    process.emitWarning(`warden: WAL checkpoints are back on the event loop (${reason})`);
  }
}
