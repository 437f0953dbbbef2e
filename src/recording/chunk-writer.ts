// Writes recording chunks to the store for every recording of a Recorder, group-committed like
// the audit log: chunks flushed during one turn of the event loop go in one multi-row INSERT,
// and chunks flushed while an INSERT runs go in the next one. So with many live sessions the
// store sees one statement per flush window, not one per session.
//
// A chunk is keyed (session, seq) and its seq is fixed when the recording flushes, so rows may
// land in any order and a retried chunk that did commit the first time is skipped (ON CONFLICT
// DO NOTHING: same key, same bytes) instead of failing its whole batch again.
import type { Kysely } from 'kysely';
import { type Database, insertRecordingChunks } from '../store/index.js';

/** Rows per INSERT (3 parameters each, far under PostgreSQL's 65535). */
const MAX_ROWS = 500;
/** Bytes per INSERT; a larger single chunk still goes alone. */
const MAX_BYTES = 8 * 1024 * 1024;

interface PendingChunk {
  session_id: string;
  seq: number;
  data: Buffer;
  done(err?: unknown): void;
}

export class ChunkWriter {
  private queue: PendingChunk[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly db: Kysely<Database>) {}

  /** Resolves once the chunk is committed; rejects when its INSERT failed. */
  write(session: string, seq: number, data: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ session_id: session, seq, data, done: (err) => (err === undefined ? resolve() : reject(err)) });
      // The rest of this turn's flushes (timers firing together) join the same INSERT.
      this.running ??= new Promise<void>((r) => setImmediate(r)).then(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      // Checked and cleared synchronously, so a write can never slip between the two.
      if (this.queue.length === 0) {
        this.running = undefined;
        return;
      }
      let bytes = 0;
      let n = 0;
      while (n < this.queue.length && n < MAX_ROWS && (n === 0 || bytes + this.queue[n]!.data.length <= MAX_BYTES))
        bytes += this.queue[n++]!.data.length;
      const batch = this.queue.splice(0, n);
      try {
        await insertRecordingChunks(
          this.db,
          batch.map(({ session_id, seq, data }) => ({ session_id, seq, data })),
        );
        for (const c of batch) c.done();
      } catch (err) {
        for (const c of batch) c.done(err ?? new Error('recording chunk write failed'));
      }
    }
  }
}
