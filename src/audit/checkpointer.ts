// The checkpointer: signs the chain's newest (seq, hash) every `every` entries or `interval`,
// whichever comes first, and once more at shutdown. It only reads the store (and the audit log's
// public commit counter), so it never sits in the append path; a checkpoint that cannot be
// stored, written or sent is logged, never allowed to stop the gateway.
import { appendFile } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../core/clock.js';
import type { Database } from '../store/schema.js';
import { type Checkpoint, type CheckpointSigner, checkpointLine } from './checkpoint.js';

/** How often the commit counter is looked at (cheap, in memory). */
const TICK_MS = 250;
const WEBHOOK_TIMEOUT_MS = 5000;

export interface CheckpointerOptions {
  db: Kysely<Database>;
  signer: CheckpointSigner;
  /** Committed entries so far in this process (AuditLog.commits.entries). */
  committed: () => number;
  every: number;
  intervalMs: number;
  file?: string | undefined;
  webhook?: string | undefined;
  logger: Logger;
  clock?: Clock;
}

export class Checkpointer {
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastSeq = -1;
  private lastAt: number;
  private committedAtLast = 0;

  constructor(private readonly o: CheckpointerOptions) {
    this.clock = o.clock ?? systemClock;
    this.lastAt = this.clock.now();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), Math.min(TICK_MS, this.o.intervalMs));
    this.timer.unref();
  }

  /** Stops the timer and signs a last checkpoint of whatever was committed. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.checkpoint();
  }

  /** Signs and publishes a checkpoint of the newest entry, unless it is already checkpointed. */
  async checkpoint(): Promise<Checkpoint | undefined> {
    while (this.running) await this.running;
    let result: Checkpoint | undefined;
    this.running = this.take()
      .then((c) => {
        result = c;
      })
      .catch((err) => this.o.logger.error({ err }, 'audit checkpoint failed'))
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
    return result;
  }

  private tick(): void {
    if (this.running) return;
    const due =
      this.o.committed() - this.committedAtLast >= this.o.every || this.clock.now() - this.lastAt >= this.o.intervalMs;
    if (due) void this.checkpoint();
  }

  private async take(): Promise<Checkpoint | undefined> {
    const committed = this.o.committed();
    const now = this.clock.now();
    const last = await this.o.db
      .selectFrom('audit_log')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    this.committedAtLast = committed;
    this.lastAt = now;
    if (!last || Number(last.seq) === this.lastSeq) return undefined;
    const c = this.o.signer.sign({ seq: Number(last.seq), hash: last.hash, at: now });
    const inserted = await this.o.db
      .insertInto('audit_checkpoints')
      .values({
        seq: c.seq,
        key_id: c.keyId,
        hash: c.hash,
        at: c.at,
        public_key: c.publicKey,
        signature: c.signature,
      })
      .onConflict((oc) => oc.columns(['seq', 'key_id']).doNothing())
      .executeTakeFirst();
    this.lastSeq = c.seq;
    // Already signed by this key (a restart with nothing new): nothing new to publish.
    if (inserted.numInsertedOrUpdatedRows === 0n) return undefined;
    await Promise.all([this.toFile(c), this.toWebhook(c)]);
    return c;
  }

  private async toFile(c: Checkpoint): Promise<void> {
    if (!this.o.file) return;
    await appendFile(this.o.file, checkpointLine(c), { mode: 0o600 }).catch((err) =>
      this.o.logger.error({ err, file: this.o.file }, 'audit checkpoint not written to its file'),
    );
  }

  private async toWebhook(c: Checkpoint): Promise<void> {
    if (!this.o.webhook) return;
    try {
      const res = await fetch(this.o.webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'audit.checkpoint', checkpoint: c }),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      this.o.logger.error({ err, webhook: new URL(this.o.webhook).origin }, 'audit checkpoint not sent to its webhook');
    }
  }
}
