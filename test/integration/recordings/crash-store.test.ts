// Recordings kept in a PostgreSQL store across a crash: `warden start` (recordingStore defaults
// to database with a PostgreSQL store) is killed with SIGKILL while a session is open. What its
// buffered writer had flushed (the timer, without the session ending) is in the store; the next
// start closes the session as `gateway restarted` and audits the digest of the recording as the
// crash left it; `warden audit verify --store` checks that digest against the chunks, and the
// API serves the recording, which parses.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../../src/gateway/index.js';
import { runWarden, startWardenProcess } from '../../helpers/cli.js';
import { startShopPostgres, TEST_POLICY } from '../../helpers/gateway.js';
import { runSql, startPostgres, type TestPostgres } from '../../helpers/postgres.js';

describe('store recordings survive a crash', () => {
  let target: TestPostgres;
  let storeDb: TestPostgres;
  let dir: string;
  let config: string;
  let pgPort: number;
  let apiPort: number;
  const children: ChildProcess[] = [];
  const env = () => ({ ...process.env, SHOP_PW: target.password, WARDEN_QUIET_SOURCE: '1' });

  async function startWarden(): Promise<ChildProcess> {
    const child = await startWardenProcess(config, env());
    children.push(child);
    return child;
  }

  async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 400; i++) {
      const v = await fn();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`never happened: ${what}`);
  }

  before(async () => {
    target = await startShopPostgres();
    storeDb = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'warden-crash-store-'));
    config = join(dir, 'warden.yaml');
    pgPort = await freePort();
    apiPort = await freePort();
    await writeFile(
      config,
      `listen: { api: 127.0.0.1:${apiPort}, postgres: 127.0.0.1:${pgPort} }
store: ${storeDb.url}
recordings: ${join(dir, 'data', 'recordings')}
dataDir: ${join(dir, 'data')}
admins: [admins]
identity: { dev: true }
connections:
  shop: { type: postgres, host: 127.0.0.1, port: ${target.port}, database: ${target.database}, user: ${target.user}, password: '\${env:SHOP_PW}', tls: disable }
${TEST_POLICY}`,
    );
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await storeDb?.stop();
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('flushed chunks outlive a SIGKILL; recovery digests them; verify and the API read them', async () => {
    const first = await startWarden();
    const token = async (sub: string, groups: string) => {
      const r = await runWarden(['token', '--sub', sub, '--groups', groups, '-c', config], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const client = new pg.Client({
      host: '127.0.0.1',
      port: pgPort,
      user: 'a',
      password: await token('crashy', 'agents'),
      database: 'shop',
    });
    client.on('error', () => {});
    await client.connect();
    for (let i = 0; i < 20; i++) assert.equal((await client.query(`SELECT ${i} AS crash_n`)).rows[0].crash_n, i);
    const [session] = await runSql(storeDb.url, "SELECT id, recording_path FROM sessions WHERE sub = 'crashy'");
    const id = String(session!.id);
    assert.equal(session!.recording_path, `store:${id}.jsonl`);
    // The flush timer stores what was recorded, with the session still open.
    await until('the last statement in the store', async () => {
      const rows = await runSql(
        storeDb.url,
        "SELECT count(*) AS n FROM recording_chunks WHERE session_id = $1 AND convert_from(data, 'UTF8') LIKE '%SELECT 19 AS crash_n%'",
        [id],
      );
      return Number(rows[0]!.n) > 0 ? true : undefined;
    });
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await exited;
    await client.end().catch(() => {});

    const second = await startWarden();
    const [closed] = await runSql(storeDb.url, 'SELECT end_reason FROM sessions WHERE id = $1', [id]);
    assert.equal(closed!.end_reason, 'gateway restarted');
    const digests = await runSql(
      storeDb.url,
      "SELECT data FROM audit_log WHERE type = 'recording.digest' AND session = $1",
      [id],
    );
    assert.equal(digests.length, 1, 'the recording as the crash left it is anchored');
    const digest = JSON.parse(String(digests[0]!.data));
    assert.equal(digest.recovered, true);
    assert.equal(digest.file, `${id}.jsonl`);

    const verified = await runWarden(['audit', 'verify', '--store', storeDb.url, '--json']);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
    const v = JSON.parse(verified.stdout);
    assert.deepEqual([v.ok, v.recordings.missing.length, v.recordings.edited.length], [true, 0, 0]);
    assert.ok(v.recordings.checked >= 1);

    const admin = await token('auditor', 'admins');
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/sessions/${id}/recording`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(res.status, 200);
    const lines = (await res.text()).trimEnd().split('\n');
    const events = lines.map((l) => JSON.parse(l) as { type?: string; text?: string });
    assert.equal(events[0]!.type, 'session.start');
    const ops = events.filter((e) => e.type === 'operation' && /crash_n/.test(String(e.text)));
    assert.equal(ops.length, 20, 'every answered statement recorded before the crash');
    // No file was written: the recording lives in the store only.
    assert.deepEqual(await readdir(join(dir, 'data', 'recordings')).catch(() => []), []);
    second.kill('SIGTERM');
  });
});
