// `warden start` as a real process: structured JSON logs without secrets, /healthz, /metrics.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../../src/gateway/index.js';
import { runWarden, WARDEN_BIN } from '../../helpers/cli.js';
import { startShopPostgres, TEST_POLICY } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';

describe('warden start', () => {
  let target: TestPostgres;
  let dir: string;
  let child: ChildProcess;
  let stderr = '';
  let apiPort: number;
  let pgPort: number;
  const env = () => ({ ...process.env, SHOP_PW: target.password, WARDEN_LOG_LEVEL: 'debug' });

  before(async () => {
    // Its own cluster: the config names database shop and role app.
    target = await startShopPostgres({ ownCluster: true });
    dir = await mkdtemp(join(tmpdir(), 'warden-start-'));
    apiPort = await freePort();
    pgPort = await freePort();
    await writeFile(
      join(dir, 'warden.yaml'),
      `listen: { api: 127.0.0.1:${apiPort}, postgres: 127.0.0.1:${pgPort} }
store: sqlite:./data/warden.db
recordings: ./data/recordings
dataDir: ./data
identity: { dev: true }
connections:
  shop: { type: postgres, host: 127.0.0.1, port: ${target.port}, database: shop, user: app, password: '\${env:SHOP_PW}', tls: disable }
${TEST_POLICY}`,
    );
    child = spawn(process.execPath, [WARDEN_BIN, 'start', '-c', join(dir, 'warden.yaml')], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => (stderr += d));
    for (let i = 0; i < 200 && !/listening/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(stderr, /listening/, stderr);
  });
  after(async () => {
    child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    await target?.stop();
  });

  it('serves clients, health and metrics; logs are JSON and never contain a token or password', async () => {
    const tok = await runWarden(['token', '-c', join(dir, 'warden.yaml'), '--sub', 'svc-ci', '--groups', 'agents'], {
      env: env(),
    });
    assert.equal(tok.code, 0, tok.stderr);
    const token = tok.stdout.trim();
    const c = new pg.Client({ host: '127.0.0.1', port: pgPort, database: 'shop', user: 'svc-ci', password: token });
    await c.connect();
    const r = await c.query('SELECT email FROM customers WHERE id = 1');
    assert.notEqual(r.rows[0].email, 'ada@example.com');
    await assert.rejects(c.query('TRUNCATE orders'), /blocked by rule no-ddl/);
    await c.end();
    const bad = new pg.Client({ host: '127.0.0.1', port: pgPort, database: 'shop', user: 'x', password: `${token}x` });
    await assert.rejects(bad.connect(), /token|signature|invalid/i);

    const health = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
    assert.equal(health.status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    assert.match(metrics, /warden_decisions_total\{effect="mask",protocol="postgres",kind="sql"\} 1/);
    assert.match(metrics, /warden_decisions_total\{effect="block",protocol="postgres",kind="sql"\} 1/);
    assert.match(metrics, /warden_sessions_open/);
    assert.match(metrics, /warden_decide_seconds_bucket/);

    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('close', resolve));
    assert.ok(!stderr.includes(token), 'the token never appears in the logs');
    assert.ok(!stderr.includes(target.password), 'the target password never appears in the logs');
    const jsonLines = stderr.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(jsonLines.length > 0, 'structured logs');
    for (const l of jsonLines) JSON.parse(l);
  });
});
