// WAL checkpoints off the event loop (src/store/wal-checkpointer.ts): the store's connection
// never checkpoints inside a commit, the thread does after enough audit commits and keeps the
// WAL bounded under continuous appends, the chain stays whole, and when the thread cannot run
// the connection takes its checkpoints back (the WAL must not grow without bound).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { AuditLog } from '../../../src/audit/index.js';
import { openStore } from '../../../src/store/index.js';
import { WalCheckpointer } from '../../../src/store/wal-checkpointer.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-wal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WAL checkpointer', () => {
  test('audit commits are checkpointed by the thread, the WAL stays bounded, the chain verifies', async () => {
    const path = join(dir, 'a.db');
    const store = await openStore(`sqlite:${path}`);
    let appended = 0;
    try {
      assert.ok(store.walCheckpointer, 'a file store has a checkpointer');
      assert.equal(store.sqlite!.pragma('wal_autocheckpoint', { simple: true }), 0);
      const log = new AuditLog(store, { writerThread: false });
      const data = { statement: `SELECT ${'x'.repeat(2000)}` };
      // One commit per entry (each awaited), as a c=1 client makes them: ~12,000 WAL pages
      // written in all, three times the restart bound.
      const stats = store.walCheckpointer!.stats;
      // On a loaded machine the thread may lag: go on (bounded) until it has restarted the WAL.
      while (appended < 6000 || (stats.restarts === 0 && appended < 30_000)) {
        await log.append({ type: 'test.append', data: { ...data, i: appended++ } });
      }
      await until(() => stats.checkpoints > 0);
      assert.ok(stats.checkpoints >= 5, `checkpoints: ${stats.checkpoints}`);
      // Without checkpoints the WAL would hold every page written (2–3 per commit); restarted,
      // it starts over, so it now holds fewer pages than there were commits. (Its file keeps its
      // largest size: SQLite reuses it rather than truncating it.)
      assert.ok(stats.restarts >= 1, JSON.stringify(stats));
      const [now] = store.sqlite!.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
      assert.ok(now!.log < appended, `WAL pages now ${now!.log} after ${appended} commits, ${JSON.stringify(stats)}`);
      const v = await log.verify();
      assert.equal(v.ok, true);
      assert.equal(v.checked, appended);
      await log.close();
    } finally {
      await store.close();
    }
    // Closed: SQLite's last connection checkpointed and removed the WAL; every entry is in the file.
    const reader = new SqliteDatabase(path, { readonly: true });
    assert.equal((reader.prepare('select count(*) as n from audit_log').get() as { n: number }).n, appended);
    reader.close();
  });

  test('a thread that cannot open the database gives the checkpoints back to the connection', async () => {
    const database = new SqliteDatabase(join(dir, 'b.db'));
    database.pragma('journal_mode = WAL');
    const checkpointer = new WalCheckpointer(database, join(dir, 'missing', 'b.db'));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      assert.equal(database.pragma('wal_autocheckpoint', { simple: true }), 0);
      checkpointer.request();
      await until(() => database.pragma('wal_autocheckpoint', { simple: true }) === 1000);
      await until(() => warnings.some((w) => w.includes('WAL checkpoints are back on the event loop')));
      checkpointer.request(); // a no-op now, not a second thread
    } finally {
      process.off('warning', onWarning);
      await checkpointer.close();
      database.close();
    }
  });
});
