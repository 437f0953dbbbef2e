// Upgrading a store whose audit log was written with the `at` index (migrations up to 0007):
// 0008 indexes the existing rows into audit_log_times in one pass and drops the index, and
// list({since}) is exact over the old rows and the new ones.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { AuditLog, GENESIS_HASH } from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { type Database, openStore } from '../../../src/store/index.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, WardenMigrations } from '../../../src/store/migrations.js';

test('0008 indexes an existing audit log by time and drops the at index; since stays exact', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-times-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'warden.db');
  const old = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path) }) });
  const migrator = new Migrator({
    db: old,
    provider: new WardenMigrations('sqlite'),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error } = await migrator.migrateTo('0007_recording_chunks');
  assert.equal(error, undefined);
  // 12,000 old rows (more than one page of the migration's scan), the clock stepping back now and then.
  const t0 = Date.UTC(2026, 5, 1);
  const ats: number[] = [];
  let at = t0;
  for (let i = 1; i <= 12_000; i++) {
    at += i % 997 === 0 ? -45_000 : 370;
    ats.push(at);
  }
  for (let i = 0; i < ats.length; i += 500) {
    const rows = ats.slice(i, i + 500).map((a, k) => ({
      seq: i + k + 1,
      id: `au_${i + k + 1}`,
      at: a,
      type: 'sql',
      actor: 'old',
      session: null,
      connection: null,
      data: '{}',
      prev_hash: GENESIS_HASH,
      hash: GENESIS_HASH,
    }));
    await old.insertInto('audit_log').values(rows).execute();
  }
  await old.destroy();

  const store = await openStore(`sqlite:${path}`);
  t.after(() => store.close());
  const indexes = store
    .sqlite!.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'audit_log'")
    .all();
  assert.deepEqual(indexes, [], 'the at index is gone');
  const buckets = await store.db.selectFrom('audit_log_times').selectAll().orderBy('bucket').execute();
  assert.equal(buckets.length > 40, true);
  for (let i = 1; i < buckets.length; i++) assert.equal(buckets[i]!.first_seq > buckets[i - 1]!.first_seq, true);

  const clock = new ManualClock(at + 1000);
  const log = new AuditLog(store, { clock });
  for (let i = 0; i < 50; i++) {
    await log.append({ type: 'sql', actor: 'new', data: { i } });
    clock.advance(i === 25 ? -30_000 : 3_000);
  }
  const all: { seq: number; at: number }[] = [];
  for (let afterSeq = 0; ; ) {
    const page = await log.list({ afterSeq, limit: 1000 });
    all.push(...page);
    if (page.length < 1000) break;
    afterSeq = page[page.length - 1]!.seq;
  }
  assert.equal(all.length, 12_050);
  for (const since of [t0, t0 + 200_000, ats[996]!, ats[997]! + 1, at - 20_000, at + 30_000, at + 500_000]) {
    const want = all.filter((r) => r.at >= since).map((r) => r.seq);
    const got: number[] = [];
    for (let afterSeq = 0; ; ) {
      const page = await log.list({ since, afterSeq, limit: 1000 });
      got.push(...page.map((r) => r.seq));
      if (page.length < 1000) break;
      afterSeq = page[page.length - 1]!.seq;
    }
    assert.deepEqual(got, want, `since ${since - t0} ms`);
  }
});
