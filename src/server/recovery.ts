// Crash recovery: sessions a crashed gateway process left "open" are closed at the next start
// with reason `gateway restarted`, and each closing is audited. Each process has an instance id;
// the previous one of this dataDir is kept in a file, so a restart knows which sessions were its
// own. With SQLite (one gateway per store) every open session is an orphan, except that a worker
// of `warden start --workers` started again closes only its predecessor's (the other workers are
// live); with a PostgreSQL store other instances' sessions are left alone.
//
// An operation held for review (`hold`) when the process died waited in one of those sessions:
// its client is gone, so its review is expired (reason `gateway restarted while the operation
// was held`, audited) rather than left for someone to approve an operation nobody waits for.
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AuditLog, seqLowerBound } from '../audit/index.js';
import type { Clock } from '../core/clock.js';
import { auditRecordingDigest } from '../recording/recorder.js';
import type { Session, Store } from '../store/index.js';

export const RESTART_REASON = 'gateway restarted';
export const HOLD_LOST_REASON = 'gateway restarted while the operation was held';
/** Session ids per `in (…)` list. */
const ID_CHUNK = 500;

/** This process's instance id, and the previous one of the same dataDir (if any). */
export async function claimInstance(
  dataDir: string,
  fileName = 'instance-id',
): Promise<{ id: string; previous: string | null }> {
  const file = join(dataDir, fileName);
  const previous = (await readFile(file, 'utf8').catch(() => '')).trim() || null;
  const id = randomUUID();
  await writeFile(file, `${id}\n`, { mode: 0o600 });
  return { id, previous };
}

export async function closeOrphanedSessions(
  store: Store,
  audit: AuditLog,
  opts: {
    previous: string | null;
    clock: Clock;
    logger: Logger;
    /** Only the previous instance's sessions, even on SQLite (a worker started again: the others are live). */
    onlyPrevious?: boolean;
  },
): Promise<number> {
  const closed = await store.closeOrphans({
    instances: opts.previous ? [opts.previous] : [],
    all: store.dialect === 'sqlite' && opts.onlyPrevious !== true,
    at: opts.clock.now(),
    reason: RESTART_REASON,
  });
  for (const s of closed) {
    await audit.append({
      type: 'session.end',
      actor: s.sub,
      session: s.id,
      connection: s.connection,
      data: { issuer: s.issuer, reason: RESTART_REASON, operations: s.operations, recovered: true },
    });
    // The recording as the crash left it is what there is: anchor that, so later edits show.
    await auditRecordingDigest(audit, s, { recovered: true, db: store.db }).catch((err) =>
      opts.logger.warn({ err, session: s.id }, 'recording of a recovered session could not be digested'),
    );
  }
  if (closed.length > 0) opts.logger.warn({ sessions: closed.length }, 'closed sessions a previous process left open');
  const holds = await expireLostHolds(store, audit, closed, opts.clock);
  if (holds > 0)
    opts.logger.warn({ reviews: holds }, 'expired reviews whose held operation died with the previous process');
  return closed.length;
}

/**
 * Reviews created in the orphaned sessions whose operation was never audited (the operation
 * entry is written when the hold ends) were still being held at the crash: expired, audited.
 */
export async function expireLostHolds(store: Store, audit: AuditLog, closed: Session[], clock: Clock): Promise<number> {
  if (closed.length === 0) return 0;
  const since = Math.min(...closed.map((s) => s.startedAt));
  // Found by seq from where the log reached `since` (no index on `at`, see audit/time-index.ts).
  const fromSeq = await seqLowerBound(store.db, since);
  if (fromSeq === undefined) return 0;
  const created = new Map<string, { review: string; session: string }>();
  const answered = new Set<string>();
  for (let i = 0; i < closed.length; i += ID_CHUNK) {
    const ids = closed.slice(i, i + ID_CHUNK).map((s) => s.id);
    const rows = await store.db
      .selectFrom('audit_log')
      .select(['type', 'session', 'data'])
      .where('seq', '>=', fromSeq)
      .where('at', '>=', since)
      .where('type', 'in', ['review.created', 'operation'])
      .where('session', 'in', ids)
      .execute();
    for (const r of rows) {
      const d = JSON.parse(r.data) as { op?: unknown; review?: unknown };
      if (typeof d.op !== 'string') continue;
      if (r.type === 'operation') answered.add(d.op);
      else if (typeof d.review === 'string') created.set(d.op, { review: d.review, session: r.session ?? '' });
    }
  }
  let expired = 0;
  for (const [op, { review: id, session }] of created) {
    if (answered.has(op)) continue;
    const now = clock.now();
    const r = await store.updateReview(
      id,
      { state: 'expired', decidedAt: now, expiresAt: now },
      { expectState: 'pending' },
    );
    if (!r) continue; // decided meanwhile (another instance, an approver): nothing was lost
    expired++;
    await audit.append({
      type: 'review.expired',
      actor: r.requester.sub,
      session,
      connection: r.connection,
      data: {
        review: id,
        requester: r.requester.sub,
        requesterIssuer: r.requester.issuer,
        was: 'pending',
        reason: HOLD_LOST_REASON,
        recovered: true,
      },
    });
  }
  return expired;
}
