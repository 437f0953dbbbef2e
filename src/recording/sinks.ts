// Where a session recording's buffered lines go. A file sink writes them at once (one writeSync
// per flush); a store sink inserts each flush as one chunk row (src/store/recording-chunks.ts),
// in order, one insert at a time per recording: flushes arriving while an insert runs are joined
// into the next chunk, so a busy recording writes fewer, larger rows.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Kysely } from 'kysely';
import { appendRecordingChunk, type Database } from '../store/index.js';

export interface RecordingSink {
  /** Appends whole lines. */
  write(text: string): void;
  /** Resolves once everything written so far is stored; rejects when a write failed. */
  settled(): Promise<void>;
  /** settled(), then releases the sink (later writes are dropped). */
  close(): Promise<void>;
}

export class FileSink implements RecordingSink {
  private fd: number | undefined;

  constructor(path: string) {
    this.fd = openSync(path, 'a', 0o600);
  }

  write(text: string): void {
    if (this.fd !== undefined) writeSync(this.fd, text);
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    return Promise.resolve();
  }
}

export class StoreSink implements RecordingSink {
  private queued: string[] = [];
  private seq = 0;
  private writing: Promise<void> | undefined;
  /** The last insert's failure; its text is queued again and retried with the next write. */
  private error: unknown;
  private closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly session: string,
  ) {}

  write(text: string): void {
    if (this.closed) return;
    this.queued.push(text);
    this.pump();
  }

  async settled(): Promise<void> {
    // A failed insert is retried once more here (end() must not give up on a passing blip).
    if (this.error !== undefined && !this.writing) {
      this.error = undefined;
      this.pump();
    }
    while (this.writing) await this.writing;
    if (this.error !== undefined) throw this.error;
  }

  async close(): Promise<void> {
    try {
      await this.settled();
    } finally {
      this.closed = true;
    }
  }

  private pump(): void {
    if (this.writing || this.queued.length === 0) return;
    const text = this.queued.length === 1 ? this.queued[0]! : this.queued.join('');
    this.queued = [];
    this.writing = appendRecordingChunk(this.db, this.session, this.seq, Buffer.from(text, 'utf8'))
      .then(
        () => {
          this.seq++;
          this.error = undefined;
        },
        (err: unknown) => {
          this.queued.unshift(text);
          this.error = err;
        },
      )
      .then(() => {
        this.writing = undefined;
        if (this.error === undefined) this.pump();
      });
  }
}
