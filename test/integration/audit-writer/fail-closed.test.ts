// The audit writer thread behind a real gateway and a real client: when SQLite itself refuses
// the insert (a trigger on the store's file, written by another connection, as a full disk or a
// locked database would), nothing is answered unaudited — a pipelined read ends the session
// with FATAL 58000, a write is refused before it reaches the target — and once the store
// accepts writes again, every answered statement has its entry and the chain verifies.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { runSql } from '../../helpers/postgres.js';

// The gateway runs in this process: its AuditLog reads the switch when it is created.
process.env.WARDEN_AUDIT_THREAD = '1';

describe('audit writer thread: fail closed on a real SQLite write error', () => {
  const suite = shopGatewaySuite();

  function withRefusingStore<T>(fn: () => Promise<T>): Promise<T> {
    const db = new SqliteDatabase(join(suite.gw.dir, 'warden.db'));
    db.pragma('busy_timeout = 5000');
    db.exec(
      "CREATE TRIGGER refuse_operations BEFORE INSERT ON audit_log WHEN NEW.type = 'operation' BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    return fn().finally(() => {
      db.exec('DROP TRIGGER refuse_operations');
      db.close();
    });
  }

  it('a read returns no rows and ends the session; a write never reaches the target', async () => {
    const reader = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('agent-wt', ['dba'])) });
    const writer = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('dba-wt', ['dba'])) });
    await reader.connect();
    await writer.connect();
    reader.on('error', () => {});
    await withRefusingStore(async () => {
      await assert.rejects(reader.query('SELECT name, email FROM customers'), (e: Error & { code?: string }) => {
        assert.equal(e.code, '58000', e.message);
        return true;
      });
      await assert.rejects(
        writer.query("UPDATE customers SET notes = 'wt' WHERE id = 1"),
        (e: Error & { code?: string }) => e.code === '42501',
      );
    });
    const rows = await runSql(suite.target.url, 'SELECT notes FROM customers WHERE id = 1');
    assert.notEqual(rows[0]?.notes, 'wt', 'the write never reached the target');
    // The store writes again: the same session goes on, audited.
    const ok = await writer.query('SELECT 1 AS one');
    assert.equal(ok.rows[0].one, 1);
    await writer.end();
    await reader.end().catch(() => {});
  });

  it('every answered statement of a concurrent run has its entry, and the chain verifies', async () => {
    const token = await suite.gw.token('agent-many', ['dba']);
    const clients = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const c = new pg.Client({ connectionString: suite.gw.url(token) });
        await c.connect();
        return c;
      }),
    );
    let answered = 0;
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = 0; i < 40; i++) {
          const r = await c.query(`SELECT ${k * 100 + i} AS n_${k}_${i}`);
          assert.equal(r.rows[0][`n_${k}_${i}`], k * 100 + i);
          answered++;
        }
      }),
    );
    for (const c of clients) await c.end();
    const audit = suite.gw.running.gateway.audit;
    await audit.flush();
    const entries = (await audit.list({ type: 'operation', limit: 100_000 })).filter((e) => e.actor === 'agent-many');
    // The audited text is normalized (literals become placeholders); the alias names the query.
    const aliases = new Set(entries.map((e) => /AS (n_\d+_\d+)/.exec(String(e.data.text))?.[1]));
    assert.equal(answered, 240);
    for (let k = 0; k < 6; k++)
      for (let i = 0; i < 40; i++) assert.ok(aliases.has(`n_${k}_${i}`), `entry for query ${k}/${i}`);
    const verified = await audit.verify();
    assert.equal(verified.ok, true, JSON.stringify(verified));
    assert.ok((audit as unknown as { writer?: object }).writer, 'the entries went through the writer thread');
  });
});
