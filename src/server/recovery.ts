// Crash recovery: sessions a crashed gateway process left "open" are closed at the next start
// with reason `gateway restarted`, and each closing is audited. Each process has an instance id;
// the previous one of this dataDir is kept in a file, so a restart knows which sessions were its
// own. With SQLite (one process per store) every open session is an orphan; with a PostgreSQL
// store other instances' sessions are left alone.
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/index.js';
import type { Clock } from '../core/clock.js';
import { auditRecordingDigest } from '../recording/recorder.js';
import type { Store } from '../store/index.js';

export const RESTART_REASON = 'gateway restarted';

/** This process's instance id, and the previous one of the same dataDir (if any). */
export async function claimInstance(dataDir: string): Promise<{ id: string; previous: string | null }> {
  const file = join(dataDir, 'instance-id');
  const previous = (await readFile(file, 'utf8').catch(() => '')).trim() || null;
  const id = randomUUID();
  await writeFile(file, `${id}\n`, { mode: 0o600 });
  return { id, previous };
}

export async function closeOrphanedSessions(
  store: Store,
  audit: AuditLog,
  opts: { previous: string | null; clock: Clock; logger: Logger },
): Promise<number> {
  const closed = await store.closeOrphans({
    instances: opts.previous ? [opts.previous] : [],
    all: store.dialect === 'sqlite',
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
    await auditRecordingDigest(audit, s, { recovered: true }).catch((err) =>
      opts.logger.warn({ err, session: s.id }, 'recording of a recovered session could not be digested'),
    );
  }
  if (closed.length > 0) opts.logger.warn({ sessions: closed.length }, 'closed sessions a previous process left open');
  return closed.length;
}
