// The test PostgreSQL helper on a shared cluster: each startPostgres() gets a database and role
// of its own (cloned from the run's template, objects owned by that role), stop() takes both
// away, two processes building the same template at once both get it, and ownCluster still
// gives a private server with the exact names asked for.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  type PostgresCluster,
  runSql,
  SHARED_CLUSTER_ENV,
  startCluster,
  startPostgres,
} from '../../helpers/postgres.js';

const run = promisify(execFile);
const HELPER = new URL('../../helpers/postgres.ts', import.meta.url).href;
const SEED = `CREATE TABLE items (id int PRIMARY KEY, note text);
INSERT INTO items VALUES (1, 'one'), (2, 'two');
CREATE SEQUENCE tickets;
CREATE VIEW notes AS SELECT note FROM items;`;

describe('test PostgreSQL: a database per caller on one cluster', () => {
  // A cluster of this file's own, so the template below is built here, not found from a run.
  let cluster: PostgresCluster;
  const previous = process.env[SHARED_CLUSTER_ENV];
  let adminUrl: string;
  before(async () => {
    cluster = await startCluster();
    process.env[SHARED_CLUSTER_ENV] = JSON.stringify({
      port: cluster.port,
      superPassword: cluster.superPassword,
      dir: cluster.dir,
    });
    adminUrl = `postgres://postgres:${cluster.superPassword}@127.0.0.1:${cluster.port}/postgres`;
  });
  after(async () => {
    if (previous === undefined) delete process.env[SHARED_CLUSTER_ENV];
    else process.env[SHARED_CLUSTER_ENV] = previous;
    await cluster?.stop();
  });

  it('two callers asking for the same names get distinct databases and roles, seeded and owned by them', async () => {
    const a = await startPostgres({ database: 'shop', user: 'app', seedSql: SEED });
    const b = await startPostgres({ database: 'shop', user: 'app', seedSql: SEED });
    try {
      assert.equal(a.port, cluster.port);
      assert.notEqual(a.database, b.database);
      assert.notEqual(a.user, b.user);
      assert.match(a.database, /^shop_/);
      assert.match(a.user, /^app_/);
      for (const t of [a, b]) {
        const [row] = await runSql(
          t.url,
          `SELECT current_user AS who, current_database() AS db,
                  (SELECT count(*)::int FROM items) AS items,
                  (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) <> current_user) AS foreign_owned`,
        );
        assert.deepEqual(row, { who: t.user, db: t.database, items: 2, foreign_owned: 0 });
      }
      // Owned, not just readable: the role may change and drop what the seed made.
      await runSql(a.url, 'ALTER TABLE items ADD COLUMN extra int; DROP VIEW notes; SELECT nextval($$tickets$$)');
      assert.equal((await runSql(b.url, 'SELECT count(*)::int AS n FROM notes'))[0]?.n, 2, 'b is untouched');
      // The superuser URL is the same database.
      assert.equal((await runSql(a.superuserUrl, 'SELECT current_database() AS db'))[0]?.db, a.database);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('stop() drops the database, any database the role made, and the role, even with sessions open', async () => {
    const t = await startPostgres();
    const extra = `${t.database}_extra`;
    await runSql(t.superuserUrl, `CREATE DATABASE ${extra} OWNER ${t.user}`);
    const idle = await import('pg').then(({ default: pg }) => new pg.Client({ connectionString: t.url }));
    idle.on('error', () => {});
    await idle.connect();
    await t.stop();
    await t.stop(); // twice is harmless
    const left = await runSql(
      adminUrl,
      'SELECT (SELECT count(*)::int FROM pg_database WHERE datname IN ($1, $2)) AS dbs, (SELECT count(*)::int FROM pg_roles WHERE rolname = $3) AS roles',
      [t.database, extra, t.user],
    );
    assert.deepEqual(left[0], { dbs: 0, roles: 0 });
    await idle.end().catch(() => {});
  });

  it('two processes building the same new template at once both get a seeded database', async () => {
    const seed = `CREATE TABLE raced (id int); INSERT INTO raced VALUES (${Math.floor(Math.random() * 1e6)});`;
    const script = `import { startPostgres, runSql } from ${JSON.stringify(HELPER)};
      const t = await startPostgres({ seedSql: ${JSON.stringify(seed)} });
      const [row] = await runSql(t.url, 'SELECT count(*)::int AS n FROM raced');
      console.log(JSON.stringify({ n: row.n, database: t.database }));
      await t.stop();`;
    const child = () =>
      run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: process.env,
        timeout: 60_000,
      });
    const outs = await Promise.all([child(), child()]);
    const results = outs.map((o) => JSON.parse(o.stdout.trim()) as { n: number; database: string });
    assert.deepEqual(
      results.map((r) => r.n),
      [1, 1],
    );
    assert.notEqual(results[0]?.database, results[1]?.database);
    const templates = await runSql(
      adminUrl,
      "SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'warden_tpl_%' AND datname NOT LIKE '%_building'",
    );
    assert.equal(templates[0]?.n, 2, 'one template per seed: SEED above and this one');
  });

  it('ownCluster: a private server with exactly the names asked for, stopped on its own', async () => {
    const user = `own_${randomBytes(3).toString('hex')}`;
    const own = await startPostgres({ database: 'shop', user, ownCluster: true, seedSql: SEED });
    try {
      assert.notEqual(own.port, cluster.port);
      assert.equal(own.database, 'shop');
      assert.equal(own.user, user);
      const [row] = await runSql(own.url, 'SELECT current_user AS who, (SELECT count(*)::int FROM items) AS n');
      assert.deepEqual(row, { who: user, n: 2 });
    } finally {
      await own.stop();
    }
    await assert.rejects(runSql(own.url, 'SELECT 1'), 'the private server is gone');
  });
});
