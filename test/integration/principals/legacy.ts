// Rows as a store at migration 0002 held them (no issuer anywhere), written into a real store
// that is first migrated down to 0002, so 0003 runs over them on the next open.
import { type Kysely, Migrator, sql } from 'kysely';
import { openStore } from '../../../src/store/index.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, WardenMigrations } from '../../../src/store/migrations.js';

export interface LegacyRows {
  /** A finished session of `agent-old`. */
  session: string;
  /** A pending review requested by `agent-old` (approvers: dba, 1). */
  review: string;
  /** A pending 2-of-M review requested by `dba-req` (a DBA), already approved once by `dba-1`. */
  halfApproved: string;
  /** An approved, unexpired JIT grant of `oc-old` for shop. */
  grant: string;
}

export const LEGACY: LegacyRows = {
  session: 's_legacy0000000001',
  review: 'r_legacy0000000001',
  halfApproved: 'r_legacy0000000002',
  grant: 'g_legacy0000000001',
};

/** Opens `url` (migrating to the latest), goes back to 0002, writes the legacy rows, closes. */
export async function writeLegacyStore(url: string, now = Date.now()): Promise<void> {
  const store = await openStore(url);
  try {
    const db = store.db as unknown as Kysely<unknown>;
    const migrator = new Migrator({
      db,
      provider: new WardenMigrations(store.dialect),
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
    });
    const { error, results } = await migrator.migrateTo('0002_revocation_issuer');
    if (error) throw error;
    if (!results?.some((r) => r.migrationName === '0003_principal_issuer' && r.direction === 'Down')) {
      throw new Error('0003 was not migrated down');
    }
    const hour = 3_600_000;
    await sql`insert into sessions (id, connection, connection_type, sub, groups, started_at, ended_at, format, recording_path, operations, end_reason)
      values (${LEGACY.session}, 'shop', 'postgres', 'agent-old', '["agents"]', ${now - hour}, ${now - hour + 1000}, 'jsonl', '/var/lib/warden/recordings/s_legacy.jsonl', 3, 'client closed')`.execute(
      db,
    );
    const review = (id: string, requester: string, groups: string, approvers: string, approvals: string) =>
      sql`insert into reviews (id, state, requester_sub, requester_groups, connection, kind, text, normalized, op_hash, params, rules, reasons, approvers_required, approvals, uses_left, created_at, decided_at, expires_at)
        values (${id}, 'pending', ${requester}, ${groups}, 'shop', 'sql', 'UPDATE orders SET status = status', 'UPDATE orders SET status = status', 'legacy-hash', '{}', '["unbounded-writes-need-two-dbas"]', '[]', ${approvers}, ${approvals}, 1, ${now - 1000}, null, ${now + hour})`.execute(
        db,
      );
    await review(LEGACY.review, 'agent-old', '["agents"]', '{"groups":["dba"],"count":1}', '[]');
    await review(
      LEGACY.halfApproved,
      'dba-req',
      '["dba","agents"]',
      '{"groups":["dba"],"count":2}',
      JSON.stringify([{ sub: 'dba-1', at: now - 500 }]),
    );
    await sql`insert into access_requests (id, sub, groups, connection, reason, duration_ms, state, approvals, approvers_required, created_at, decided_at, expires_at)
      values (${LEGACY.grant}, 'oc-old', '["oncall"]', 'shop', 'legacy incident', ${hour}, 'approved', ${JSON.stringify([{ sub: 'dba-1', at: now - 900 }])}, '{"groups":["dba"],"count":1}', ${now - 1000}, ${now - 900}, ${now + hour})`.execute(
      db,
    );
  } finally {
    await store.close();
  }
}
