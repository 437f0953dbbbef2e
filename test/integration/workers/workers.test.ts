// `warden start --workers 2` as a real process group on one SQLite store: sessions spread over
// both workers and extend one audit chain; psql's CancelRequest (a new connection, which the
// cluster hands to the other worker) cancels the running statement; a revocation made through
// the API cuts live sessions on every worker; kill -9 of a worker mid-load leaves the other
// serving, the worker is started again, the chain verifies, and every answered statement is in
// the audit log.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { freePort } from '../../../src/gateway/index.js';
import { runWarden, WARDEN_BIN } from '../../helpers/cli.js';
import { startShopPostgres, TEST_POLICY } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';

type PgError = Error & { code?: string };

describe('warden start --workers 2', () => {
  let target: TestPostgres;
  let dir: string;
  let config: string;
  let child: ChildProcess;
  let log = '';
  let pgPort: number;
  let apiUrl: string;
  let pids: number[];
  let token: string;
  const env = () => ({ ...process.env, SHOP_PW: target.password, WARDEN_QUIET_SOURCE: '1' });
  const dbPath = () => join(dir, 'data', 'warden.db');

  const mint = async (sub: string, groups: string): Promise<string> => {
    const r = await runWarden(['token', '-c', config, '--sub', sub, '--groups', groups], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  const connect = async (password = token): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'agent', password, database: 'shop' });
    c.on('error', () => {});
    await c.connect();
    return c;
  };
  const readStore = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(dbPath(), { readonly: true, fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };

  before(async () => {
    target = await startShopPostgres();
    dir = await mkdtemp(join(tmpdir(), 'warden-workers-'));
    config = join(dir, 'warden.yaml');
    // postgres on port 0: the primary picks one free port, shared by both workers. The API's is
    // fixed, since `warden token -c` (offline) names the dev issuer by it.
    const apiPort = await freePort();
    await writeFile(
      config,
      `listen: { api: 127.0.0.1:${apiPort}, postgres: 127.0.0.1:0 }
store: sqlite:./data/warden.db
recordings: ./data/recordings
dataDir: ./data
admins: [admins]
identity: { dev: true }
connections:
  shop: { type: postgres, host: 127.0.0.1, port: ${target.port}, database: ${target.database}, user: ${target.user}, password: '\${env:SHOP_PW}', tls: disable }
${TEST_POLICY}`,
    );
    child = spawn(process.execPath, [WARDEN_BIN, 'start', '-c', config, '--workers', '2'], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d) => (log += d));
    child.stdout!.on('data', (d) => (log += d));
    for (let i = 0; i < 600 && !/listening/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
    const m = /listening .*postgres=(\d+).*\(api (\S+); 2 workers, pids (\d+) (\d+)\)/.exec(log);
    assert.ok(m, log);
    pgPort = Number(m[1]);
    apiUrl = m[2]!;
    pids = [Number(m[3]), Number(m[4])];
    token = await mint('agent-w', 'agents');
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      child.kill('SIGKILL');
    }
    for (const pid of pids ?? []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await rm(dir, { recursive: true, force: true });
    await target?.stop();
  });

  it('spreads sessions over both workers, each a gateway instance of its own', async () => {
    assert.notEqual(pids[0], pids[1]);
    const clients = await Promise.all(Array.from({ length: 6 }, () => connect()));
    for (const [i, c] of clients.entries()) {
      const r = await c.query(`SELECT email FROM customers ORDER BY id LIMIT 1 -- client ${i}`);
      assert.match(String(r.rows[0].email), /\*\*\*@/, 'masked on every worker');
    }
    await Promise.all(clients.map((c) => c.end()));
    const instances = readStore(
      (db) =>
        db.prepare(`select count(distinct instance) as n from sessions where sub = 'agent-w'`).get() as { n: number },
    );
    assert.equal(instances.n, 2, 'sessions on both workers');
  });

  it("cancels a running statement whichever worker receives psql's CancelRequest", async () => {
    for (let round = 0; round < 3; round++) {
      const psql = spawn(
        'psql',
        ['-X', '-h', '127.0.0.1', '-p', String(pgPort), '-U', 'agent', '-d', 'shop', '-c', 'SELECT pg_sleep(30)'],
        {
          env: { ...process.env, PGPASSWORD: token, PGSSLMODE: 'disable' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      psql.stdout.on('data', (d) => (out += d));
      psql.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => psql.once('exit', r));
      // Until the statement is running at the target (then psql's SIGINT sends a CancelRequest).
      for (let i = 0; i < 200; i++) {
        const rows = await runSql(
          target.superuserUrl,
          `select count(*)::int as n from pg_stat_activity where query = 'SELECT pg_sleep(30)' and state = 'active'`,
        );
        if (Number(rows[0]?.n) > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const started = Date.now();
      psql.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
      if (code === 'timeout') psql.kill('SIGKILL');
      assert.match(out, /canceling statement due to user request/, `round ${round}: ${out}`);
      assert.ok(Date.now() - started < 10_000);
    }
  });

  it('cuts live sessions on every worker when the subject is revoked through the API', async () => {
    const victimToken = await mint('victim-w', 'agents');
    const admin = await mint('boss', 'admins');
    const victims = await Promise.all(Array.from({ length: 4 }, () => connect(victimToken)));
    for (const v of victims) await v.query('SELECT 1');
    const instances = readStore(
      (db) =>
        db
          .prepare(`select count(distinct instance) as n from sessions where sub = 'victim-w' and ended_at is null`)
          .get() as {
          n: number;
        },
    );
    assert.equal(instances.n, 2, 'the victim has sessions on both workers');
    const r = await runWarden(['revoke', '--sub', 'victim-w', '--gateway', apiUrl, '--token', admin], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    for (const v of victims) {
      let err: PgError | undefined;
      for (let i = 0; i < 100 && !err; i++) {
        await v.query('SELECT 1').catch((e: PgError) => (err = e));
        if (!err) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(err, 'session cut');
      assert.match(err.message, /revoked|terminat|Connection/i, err.message);
    }
  });

  it('keeps serving through kill -9 of a worker; the chain verifies and every answer is audited', async () => {
    const answered: string[] = [];
    let errors = 0;
    let stop = false;
    const loop = async (n: number) => {
      let c: pg.Client | undefined;
      for (let i = 0; !stop; i++) {
        try {
          c ??= await connect();
          const alias = `q_${n}_${i}`;
          await c.query(`SELECT count(*) AS ${alias} FROM orders`);
          answered.push(alias);
        } catch {
          errors++;
          c?.end().catch(() => {});
          c = undefined;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await c?.end().catch(() => {});
    };
    const loops = Array.from({ length: 6 }, (_, n) => loop(n));
    await new Promise((r) => setTimeout(r, 1500));
    const beforeKill = answered.length;
    process.kill(pids[1]!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 3000));
    const afterKill = answered.length - beforeKill;
    // The primary starts the killed worker again; the new one closes what its predecessor left open.
    for (let i = 0; i < 300 && !/worker 1 \(pid \d+\) serving again/.test(log); i++)
      await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(loops);
    assert.ok(beforeKill > 0, 'load ran');
    assert.ok(afterKill > beforeKill / 10, `kept serving after the kill (${beforeKill} before, ${afterKill} after)`);
    assert.ok(errors > 0, 'the sessions on the killed worker failed');
    assert.match(log, /worker 1 \(pid \d+\) exited \(SIGKILL\); starting it again/);
    assert.match(log, /worker 1 \(pid \d+\) serving again/);

    // Stop the group, then check the store offline.
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    const verify = await runWarden(['audit', 'verify', '--store', `sqlite:${dbPath()}`, '--json'], { env: env() });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.equal(JSON.parse(verify.stdout).ok, true, verify.stdout);
    const audited = readStore((db) => {
      const rows = db
        .prepare(`select json_extract(data, '$.text') as text from audit_log where type = 'operation'`)
        .all() as { text: string }[];
      return new Set(rows.map((r) => /AS (q_\d+_\d+)/.exec(r.text)?.[1]).filter(Boolean));
    });
    const missing = answered.filter((a) => !audited.has(a));
    assert.deepEqual(missing, [], `${missing.length} of ${answered.length} answered statements not audited`);
    // The killed worker's sessions were closed by the worker that replaced it.
    const open = readStore(
      (db) => db.prepare('select count(*) as n from sessions where ended_at is null').get() as { n: number },
    );
    assert.equal(open.n, 0, 'no session left open');
  });
});
