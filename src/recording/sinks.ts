// Where a session recording's buffered lines go. A file sink writes them at once (one writeSync
// per flush); a store sink makes each flush one chunk row (session, seq), written by the
// Recorder's ChunkWriter together with the other recordings' chunks of the same moment.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { ChunkWriter } from './chunk-writer.js';

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
  private seq = 0;
  /** Chunks handed to the writer and not settled yet. */
  private readonly pending = new Set<Promise<void>>();
  /** Chunks whose INSERT failed: written again (same seq) with the next write or settle. */
  private failed: { seq: number; data: Buffer }[] = [];
  private error: unknown;
  private closed = false;

  constructor(
    private readonly writer: ChunkWriter,
    private readonly session: string,
  ) {}

  write(text: string): void {
    if (this.closed) return;
    this.retry();
    this.send(this.seq++, Buffer.from(text, 'utf8'));
  }

  async settled(): Promise<void> {
    // A failed chunk is retried once more here (end() must not give up on a passing blip).
    for (let attempt = 0; ; attempt++) {
      while (this.pending.size > 0) await Promise.all([...this.pending]);
      if (this.failed.length === 0) return;
      if (attempt > 0) throw this.error;
      this.retry();
    }
  }

  async close(): Promise<void> {
    try {
      await this.settled();
    } finally {
      this.closed = true;
    }
  }

  private retry(): void {
    const again = this.failed;
    this.failed = [];
    for (const c of again) this.send(c.seq, c.data);
  }

  private send(seq: number, data: Buffer): void {
    const p: Promise<void> = this.writer.write(this.session, seq, data).then(
      () => void this.pending.delete(p),
      (err: unknown) => {
        this.pending.delete(p);
        this.failed.push({ seq, data });
        this.error = err;
      },
    );
    this.pending.add(p);
  }
}
