// `warden revoke` and /api/v1/revocations against a real gateway and PostgreSQL: a revoked
// subject's open sessions (node-postgres and psql) fail their next statement with 28000 and end,
// other subjects keep working, token-id revocations hit one token only, only admins may revoke
// or list, and every revocation is audited.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runWarden } from '../../helpers/cli.js';
import { startShopPostgres } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { api, jtiOf, type RevocationGateway, startRevocationGateway } from './support.js';

type PgError = Error & { code?: string };

/** A connected node-postgres client whose 'error' and 'end' are captured (a cut session emits both). */
async function openClient(url: string): Promise<{ client: pg.Client; ended: Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  await client.connect();
  return { client, ended };
}

async function one(client: pg.Client, sql: string): Promise<unknown> {
  return (await client.query(sql)).rows[0];
}

describe('revocation', () => {
  let target: TestPostgres;
  let gw: RevocationGateway;
  let admin: string;

  before(async () => {
    target = await startShopPostgres();
    gw = await startRevocationGateway(target);
    admin = await gw.devToken('root-admin', ['admins']);
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('warden revoke --sub (child process) cuts the open session at its next statement with 28000; others keep working', async () => {
    const victimToken = await gw.devToken('victim', ['agents']);
    const victim = await openClient(gw.url(victimToken));
    // A second session of the same subject with another token: a subject revocation covers every token.
    const victim2 = await openClient(gw.url(await gw.devToken('victim', ['agents'])));
    const bystander = await openClient(gw.url(await gw.devToken('bystander', ['agents'])));
    try {
      assert.deepEqual(await one(victim.client, 'SELECT 1 AS n'), { n: 1 });
      assert.deepEqual(await one(victim2.client, 'SELECT 1 AS n'), { n: 1 });
      assert.deepEqual(await one(bystander.client, 'SELECT 1 AS n'), { n: 1 });

      const r = await runWarden([
        'revoke',
        '--sub',
        'victim',
        '--reason',
        'laptop stolen',
        '--gateway',
        gw.apiUrl,
        '--token',
        admin,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /revoked every token of subject victim \(issuer http:\/\/127\.0\.0\.1:\d+\/dev\)/);

      for (const s of [victim, victim2]) {
        await assert.rejects(s.client.query('SELECT 2 AS n'), (err: PgError) => {
          assert.equal(err.code, '28000');
          assert.match(err.message, /revoked/);
          return true;
        });
        await s.ended;
      }
      assert.deepEqual(await one(bystander.client, 'SELECT 3 AS n'), { n: 3 });

      // New sessions of the subject are refused at the door, with a fresh token too.
      for (const token of [victimToken, await gw.devToken('victim', ['agents'])]) {
        const c = new pg.Client({ connectionString: gw.url(token) });
        c.on('error', () => {});
        await assert.rejects(c.connect(), (err: PgError) => err.code === '28000' && /revoked/.test(err.message));
        await c.end().catch(() => {});
      }
      // The API refuses the revoked token as well.
      assert.equal((await api(gw.apiUrl, victimToken, 'GET', '/api/v1/connections')).status, 401);
    } finally {
      for (const s of [victim, victim2, bystander]) await s.client.end().catch(() => {});
    }
  });

  it('a psql session of the revoked subject: its next statement fails and psql sees the connection end', async () => {
    const token = await gw.devToken('psql-victim', ['agents']);
    const child = spawn(
      '/usr/bin/psql',
      [
        '-X',
        '-A',
        '-t',
        '-v',
        'ON_ERROR_STOP=0',
        '-d',
        `host=127.0.0.1 port=${gw.pgPort} dbname=shop user=agent sslmode=disable`,
      ],
      { env: { ...process.env, PGPASSWORD: token, PGAPPNAME: 'warden-test' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const waitFor = async (pred: () => boolean, what: string) => {
      const until = Date.now() + 15_000;
      while (!pred()) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}; stdout=${stdout} stderr=${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      child.stdin.write("SELECT 'before-' || 40 + 2;\n");
      await waitFor(() => stdout.includes('before-42'), 'the first result');
      const r = await runWarden(['revoke', '--sub', 'psql-victim', '--gateway', gw.apiUrl, '--token', admin]);
      assert.equal(r.code, 0, r.stderr);
      child.stdin.write("SELECT 'after-' || 1;\n");
      await waitFor(() => /revoked/.test(stderr), 'the refusal');
      child.stdin.end();
      await exited;
      assert.ok(!stdout.includes('after-1'), stdout);
      assert.match(stderr, /FATAL: {2}session ended: identity token was revoked/);
      assert.match(stderr, /connection to server was lost|server closed the connection/);
    } finally {
      child.kill();
    }
  });

  it('warden revoke --token-id cuts that token only; the subject’s other token keeps working', async () => {
    const t1 = await gw.devToken('two-tokens', ['agents']);
    const t2 = await gw.devToken('two-tokens', ['agents']);
    const s1 = await openClient(gw.url(t1));
    const s2 = await openClient(gw.url(t2));
    try {
      assert.deepEqual(await one(s1.client, 'SELECT 1 AS n'), { n: 1 });
      const r = await runWarden([
        'revoke',
        '--token-id',
        jtiOf(t1),
        '--gateway',
        gw.apiUrl,
        '--token',
        admin,
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const shown = JSON.parse(r.stdout) as { kind: string; value: string };
      assert.deepEqual([shown.kind, shown.value], ['token', jtiOf(t1)]);
      await assert.rejects(s1.client.query('SELECT 2'), (err: PgError) => err.code === '28000');
      await s1.ended;
      assert.deepEqual(await one(s2.client, 'SELECT 2 AS n'), { n: 2 });
      const again = await openClient(gw.url(t2));
      assert.deepEqual(await one(again.client, 'SELECT 3 AS n'), { n: 3 });
      await again.client.end();
    } finally {
      await s1.client.end().catch(() => {});
      await s2.client.end().catch(() => {});
    }
  });

  it('only admins revoke or list: 403 through the API, exit 1 through the CLI; nothing is revoked', async () => {
    const agent = await gw.devToken('not-an-admin', ['agents', 'dba']);
    const post = await api(gw.apiUrl, agent, 'POST', '/api/v1/revocations', { sub: 'bystander' });
    assert.equal(post.status, 403);
    assert.equal(post.json.code, 'WARDEN_ACCESS_DENIED');
    assert.equal((await api(gw.apiUrl, agent, 'GET', '/api/v1/revocations')).status, 403);
    const r = await runWarden(['revoke', '--sub', 'bystander', '--gateway', gw.apiUrl, '--token', agent]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /WARDEN_ACCESS_DENIED/);
    const list = await api(gw.apiUrl, admin, 'GET', '/api/v1/revocations');
    assert.ok(!list.json.revocations.some((x: { value: string }) => x.value === 'bystander'));
    const s = await openClient(gw.url(await gw.devToken('bystander', ['agents'])));
    assert.deepEqual(await one(s.client, 'SELECT 1 AS n'), { n: 1 });
    await s.client.end();
  });

  it('bad requests are usage errors (400 / exit 2)', async () => {
    for (const body of [
      {},
      { sub: 'a', tokenId: 'b' },
      { sub: '' },
      { sub: 'a', issuer: 'https://not-configured.example' },
    ]) {
      const r = await api(gw.apiUrl, admin, 'POST', '/api/v1/revocations', body);
      assert.equal(r.status, 400, JSON.stringify(body));
    }
    for (const args of [
      [],
      ['--sub', 'a', '--token-id', 'b'],
      ['--sub', 'a', '--issuer', 'https://not-configured.example'],
    ]) {
      const r = await runWarden(['revoke', ...args, '--gateway', gw.apiUrl, '--token', admin]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });

  it('revocations are listed (API and `warden revoke list`) and each one is audited', async () => {
    const list = await api(gw.apiUrl, admin, 'GET', '/api/v1/revocations');
    assert.equal(list.status, 200);
    const issuer = gw.running.devIssuer!.issuer;
    const victim = list.json.revocations.find((x: { value: string }) => x.value === 'victim');
    assert.deepEqual({ ...victim, at: 0 }, { kind: 'sub', value: 'victim', issuer, at: 0, reason: 'laptop stolen' });
    const cli = await runWarden(['revoke', 'list', '--gateway', gw.apiUrl, '--token', admin]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /sub\s+victim\s+http:\/\/127\.0\.0\.1:\d+\/dev\s+\S+\s+laptop stolen/);

    const audit = await api(gw.apiUrl, admin, 'GET', '/api/v1/audit?type=revocation&limit=100');
    const entries = audit.json.entries as { actor: string; data: Record<string, unknown> }[];
    const values = entries.map((e) => e.data.value);
    for (const v of ['victim', 'psql-victim']) assert.ok(values.includes(v), `audited: ${v}`);
    const e = entries.find((x) => x.data.value === 'victim')!;
    assert.equal(e.actor, 'root-admin');
    assert.deepEqual([e.data.kind, e.data.issuer, e.data.reason], ['sub', issuer, 'laptop stolen']);
    assert.ok(!values.includes('bystander'), 'the refused revocation is not recorded as one');
    // The chain still verifies with the new entries in it.
    const verify = await api(gw.apiUrl, admin, 'GET', '/api/v1/audit/verify');
    assert.equal(verify.status, 200);
    assert.equal(verify.json.ok, true);
  });
});
