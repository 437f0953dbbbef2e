// The main-thread side of the audit writer thread (writer-thread.ts): the data path only
// enqueues. Entries appended during one turn of the event loop are posted as one flat array (one
// structured clone per turn, not one object per entry); the thread chains, hashes and commits
// them, and its replies settle the entries' promises in order. An entry's promise resolves only
// once its transaction has committed, so what an operation waits for is durable; when the write
// fails, or the thread dies, every entry not yet acknowledged is rejected (fail closed).
//
// The thread is unref'd while nothing is outstanding, so an idle log never keeps a process alive,
// and ref'd while an entry waits, so a pending append is never cut off by the process exiting.
import { Worker } from 'node:worker_threads';
import { WardenError } from '../core/errors.js';
import { flatten, type PendingRow, resolveChained } from './sqlite-append.js';
import type { WriterReply, WriterThreadData } from './writer-thread.js';

export class AuditWriter {
  private worker: Worker | undefined;
  private workerExited: Promise<void> | undefined;
  private refed = false;
  /** This turn's entries, not posted yet. */
  private outgoing: PendingRow[] = [];
  private scheduled = false;
  /** Posted and not yet acknowledged, in order; `head` is the next to settle. */
  private inflight: PendingRow[] = [];
  private head = 0;
  private appended = 0;
  private settled = 0;
  private waiters: { target: number; resolve(): void }[] = [];

  constructor(
    private readonly path: string,
    private readonly maxBatch: number,
    private readonly onCommit: (entries: number) => void,
  ) {}

  enqueue(entry: PendingRow): void {
    this.outgoing.push(entry);
    this.appended++;
    if (!this.scheduled) {
      this.scheduled = true;
      // The rest of this turn's appends join the same message (and usually the same commit).
      setImmediate(this.post);
    }
  }

  /** Resolves once every entry enqueued so far is committed or rejected. */
  flush(): Promise<void> {
    if (this.settled >= this.appended) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ target: this.appended, resolve }));
  }

  /** Drains what is queued, then ends the thread. Appends after close() start a new one. */
  async close(): Promise<void> {
    await this.flush();
    const worker = this.worker;
    const exited = this.workerExited;
    if (!worker) return;
    this.worker = undefined;
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private readonly post = (): void => {
    this.scheduled = false;
    const batch = this.outgoing;
    if (batch.length === 0) return;
    this.outgoing = [];
    const worker = this.ensureWorker();
    for (let i = 0; i < batch.length; i += this.maxBatch) {
      const end = Math.min(batch.length, i + this.maxBatch);
      worker.postMessage(flatten(batch, i, end));
      for (let j = i; j < end; j++) this.inflight.push(batch[j]!);
    }
    if (!this.refed) {
      worker.ref();
      this.refed = true;
    }
  };

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const data: WriterThreadData = { path: this.path, maxBatch: this.maxBatch };
    const worker = startWriterThread(data);
    worker.unref();
    this.refed = false;
    worker.on('message', (reply: WriterReply) => this.onReply(reply));
    // A thread that cannot start or dies: everything it had not acknowledged fails, and the next
    // append starts a fresh thread. (Only the current thread has entries in flight: a thread is
    // replaced only after it failed them, or after close() drained it.)
    const failAll = (why: unknown) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failInflight(why);
    };
    worker.on('error', failAll);
    this.workerExited = new Promise<void>((resolve) =>
      worker.once('exit', (code) => {
        failAll(new Error(`audit writer thread exited (${code})`));
        resolve();
      }),
    );
    this.worker = worker;
    return worker;
  }

  private onReply(reply: WriterReply): void {
    const start = this.head;
    const end = Math.min(start + reply.n, this.inflight.length);
    if ('error' in reply) {
      const cause = Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {});
      const err = new WardenError('WARDEN_AUDIT_WRITE_FAILED', undefined, { cause });
      for (let i = start; i < end; i++) this.inflight[i]!.reject(err);
    } else {
      this.onCommit(end - start);
      resolveChained(this.inflight, start, end, reply);
    }
    this.advance(end - start);
  }

  private failInflight(why: unknown): void {
    const n = this.inflight.length - this.head;
    if (n === 0) return;
    const err = new WardenError('WARDEN_AUDIT_WRITE_FAILED', undefined, { cause: why });
    for (let i = this.head; i < this.inflight.length; i++) this.inflight[i]!.reject(err);
    this.advance(n);
  }

  /** The first n in flight are settled. */
  private advance(n: number): void {
    this.head += n;
    if (this.head === this.inflight.length) {
      this.inflight = [];
      this.head = 0;
    } else if (this.head > 4096) {
      this.inflight = this.inflight.slice(this.head);
      this.head = 0;
    }
    this.settle(n);
  }

  /** n more entries are settled (committed or rejected). */
  private settle(n: number): void {
    this.settled += n;
    // Waiters are in target order (targets only grow).
    while (this.waiters.length > 0 && this.waiters[0]!.target <= this.settled) this.waiters.shift()!.resolve();
    // Nothing outstanding: the thread no longer holds the process open.
    if (this.refed && this.settled === this.appended && this.worker) {
      this.worker.unref();
      this.refed = false;
    }
  }
}

/**
 * Starts writer-thread as a worker. From the compiled tree (dist/) that is its .js file; from the
 * TypeScript sources (tests, `WARDEN_FROM_SOURCE`) the thread has no loader of its own — a
 * worker inherits neither `--import tsx` nor a programmatic register() — so a two-line bootstrap
 * registers tsx in the thread before importing the file.
 */
function startWriterThread(data: WriterThreadData): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./writer-thread.js', self), { workerData: data });
  const file = new URL('./writer-thread.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(file)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}
