import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { runWarden } from '../../helpers/cli.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';

describe('warden CLI against a running gateway', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let admin: string;
  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target);
    admin = await gw.token('auditor', ['admins']);
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  const client = (args: string[], token = admin) =>
    runWarden([...args, '--gateway', gw.apiUrl, '--token', token], { env: gw.env });

  it('warden token mints a dev token that the gateway accepts', async () => {
    const r = await runWarden(
      ['token', '-c', gw.configPath, '--sub', 'cli-agent', '--groups', 'agents', '--ttl', '5m'],
      { env: gw.env },
    );
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const c = new pg.Client({ connectionString: gw.url(token) });
    await c.connect();
    const res = await c.query('SELECT count(*)::int AS n FROM customers');
    assert.equal(res.rows[0].n, 50);
    await c.end();
  });

  it('warden token refuses a bad --ttl with exit 2', async () => {
    const r = await runWarden(['token', '-c', gw.configPath, '--sub', 'x', '--ttl', 'soon'], { env: gw.env });
    assert.equal(r.code, 2);
  });

  it('warden policy test explains block, review, mask and allow without touching the target', async () => {
    const cases: [string, string, RegExp][] = [
      ['agent:agents', 'DROP TABLE orders', /effect: block[\s\S]*no-ddl/],
      ['agent:agents', 'DELETE FROM orders', /effect: review[\s\S]*unbounded-writes-need-review/],
      ['agent:agents', 'SELECT email FROM customers', /effect: mask/],
      ['dba:dba', 'SELECT email FROM customers', /effect: allow/],
      ['nobody:guests', 'SELECT 1', /effect: block[\s\S]*no-access-grant/],
    ];
    for (const [as, sql, expected] of cases) {
      const r = await runWarden(['policy', 'test', '-c', gw.configPath, '--as', as, 'shop', sql], { env: gw.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, expected, `${as} ${sql}:\n${r.stdout}`);
    }
    const facts = await runWarden(
      [
        'policy',
        'test',
        '-c',
        gw.configPath,
        '--as',
        'a:agents',
        '--json',
        'shop',
        'WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d',
      ],
      { env: gw.env },
    );
    const parsed = JSON.parse(facts.stdout);
    assert.equal(parsed.facts.allWritesFiltered, false);
    assert.ok(parsed.facts.kinds.includes('delete'));
  });

  it('sessions list/show and replay print the recorded timeline', async () => {
    const token = await gw.token('recorded-agent', ['agents']);
    const c = new pg.Client({ connectionString: gw.url(token) });
    await c.connect();
    await c.query('SELECT name, email FROM customers WHERE id = 1');
    await c.query('DROP TABLE orders').catch(() => {});
    await c.end();
    await new Promise((r) => setTimeout(r, 300));
    const list = await client(['sessions', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const sessions = JSON.parse(list.stdout) as { id: string; sub: string }[];
    const mine = sessions.find((s) => s.sub === 'recorded-agent');
    assert.ok(mine, 'session listed');
    const own = await client(['sessions', 'list', '--json'], token);
    assert.ok(
      (JSON.parse(own.stdout) as { sub: string }[]).every((s) => s.sub === 'recorded-agent'),
      'non-admins see only their own sessions',
    );
    const replay = await client(['replay', mine!.id]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /SELECT name, email FROM customers/);
    assert.match(replay.stdout, /block/i);
    assert.doesNotMatch(replay.stdout, /ada@example\.com/, 'the recording holds masked values only');
  });

  it('warden audit --since lists exactly the entries from that time on', async () => {
    // The log has no index on `at`: the API starts from audit_log_times and filters (audit/time-index.ts).
    const entries = async (args: string[]) => {
      const r = await client(['audit', '--json', '--limit', '1000', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { seq: number; at: number; type: string; data: { text?: string } });
    };
    await gw.running.gateway.audit.flush();
    await new Promise((r) => setTimeout(r, 15));
    const cut = Date.now();
    await new Promise((r) => setTimeout(r, 15));
    const c = new pg.Client({ connectionString: gw.url(await gw.token('since-agent', ['agents'])) });
    await c.connect();
    await c.query('SELECT count(*) FROM orders');
    await c.end();
    await gw.running.gateway.audit.flush();

    const all = await entries([]);
    const since = await entries(['--since', new Date(cut).toISOString()]);
    assert.deepEqual(
      since.map((e) => e.seq),
      all.filter((e) => e.at >= cut).map((e) => e.seq),
    );
    assert.ok(
      since.some((e) => e.type === 'operation' && /orders/.test(e.data.text ?? '')),
      'the new statement is listed',
    );
    assert.ok(since.length < all.length, 'older entries are left out');
    assert.deepEqual(await entries(['--since', new Date(Date.now() + 3_600_000).toISOString()]), []);
    assert.deepEqual((await entries(['--since', '1h'])).length, all.length);
  });

  it('warden audit lists decisions and --verify detects tampering', async () => {
    const list = await client(['audit', '--limit', '500']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /operation/);
    const ok = await client(['audit', '--verify']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /intact/);

    const forbidden = await client(['audit', '--verify'], await gw.token('agent', ['agents']));
    assert.equal(forbidden.code, 1);

    await gw.running.gateway.audit.flush();
    const db = new Database(join(gw.dir, 'warden.db'));
    try {
      db.prepare('UPDATE audit_log SET data = \'{"tampered":true}\' WHERE seq = 3').run();
    } finally {
      db.close();
    }
    const bad = await client(['audit', '--verify']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /#3/);
  });
});
