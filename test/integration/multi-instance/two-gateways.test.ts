// Several instances, one truth: two gateways (A and B) on one PostgreSQL store, both trusting
// the same OIDC provider (how a fleet is deployed), each with its own dataDir, dev issuer and
// recordings folder. Real clients: node-postgres and psql through A, the warden CLI and the HTTP
// API against B. Checked: a hold on A is released by `warden reviews approve` on B; a revocation
// made on B cuts a live psql session on A (psql sees the FATAL); concurrent sessions on both
// extend one audit chain, which verifies online on B and offline from the store; a session
// recorded on A (kept in the store: the default with PostgreSQL) is served by B's API — masked
// for the reader — and replayed by `warden replay` against B, also after A has stopped.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runWarden } from '../../helpers/cli.js';
import { HOLD_POLICY, startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { type OidcTestProvider, startOidcProvider } from '../../helpers/oidc.js';
import { runSql, startPostgres, type TestPostgres } from '../../helpers/postgres.js';

type PgError = Error & { code?: string };

async function until<T>(what: string, fn: () => Promise<T | undefined>, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

async function api(
  gw: TestGateway,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`${gw.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

describe('two gateways on one PostgreSQL store', () => {
  let target: TestPostgres;
  let storeDb: TestPostgres;
  let oidc: OidcTestProvider;
  let a: TestGateway;
  let b: TestGateway;
  let admin: string;
  /** A DBA session recorded on A: it read customers' emails in clear (dba is unmasked). */
  let recordedOnA = '';
  let clearEmail = '';

  before(async () => {
    target = await startShopPostgres();
    storeDb = await startPostgres();
    oidc = await startOidcProvider();
    const common = { store: storeDb.url, issuers: [oidc.issuer], policy: HOLD_POLICY };
    a = await startTestGateway(target, common);
    b = await startTestGateway(target, common);
    admin = await oidc.getToken({ sub: 'auditor', groups: ['admins'] });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await oidc?.stop();
    await storeDb?.stop();
    await target?.stop();
  });

  it('a hold on A is released by `warden reviews approve` against B', async () => {
    const agent = new pg.Client({
      connectionString: a.url(await oidc.getToken({ sub: 'held-agent', groups: ['agents'] })),
    });
    agent.on('error', () => {});
    await agent.connect();
    try {
      const held = agent.query("UPDATE orders SET status = 'paid' WHERE id = 2");
      held.catch(() => {});
      const reviewId = await until('the review on the shared store', async () => {
        const rows = await runSql(
          storeDb.url,
          "SELECT id FROM reviews WHERE requester_sub = 'held-agent' AND state = 'pending'",
        );
        return rows[0]?.id as string | undefined;
      });
      // B's inbox lists it: the review is in the shared store.
      const dba = await oidc.getToken({ sub: 'dana', groups: ['dba'] });
      const list = await runWarden(['reviews', 'list', '--gateway', b.apiUrl, '--token', dba, '--json']);
      assert.equal(list.code, 0, list.stderr);
      assert.ok(list.stdout.includes(reviewId), list.stdout);

      const approve = await runWarden(['reviews', 'approve', reviewId, '--gateway', b.apiUrl, '--token', dba]);
      assert.equal(approve.code, 0, approve.stderr);
      // A learns the decision from the store (its hold polls it) and runs the statement.
      const r = await held;
      assert.equal(r.rowCount, 1);
      assert.equal((await agent.query('SELECT status FROM orders WHERE id = 2')).rows[0].status, 'paid');
    } finally {
      await agent.end().catch(() => {});
    }
  });

  it('a revocation made on B cuts a live psql session on A: its next statement gets the FATAL', async () => {
    const victim = await oidc.getToken({ sub: 'psql-victim', groups: ['agents'] });
    const bystander = new pg.Client({
      connectionString: a.url(await oidc.getToken({ sub: 'bystander', groups: ['agents'] })),
    });
    bystander.on('error', () => {});
    await bystander.connect();
    const child = spawn(
      '/usr/bin/psql',
      [
        '-X',
        '-A',
        '-t',
        '-v',
        'ON_ERROR_STOP=0',
        '-d',
        `host=127.0.0.1 port=${a.pgPort} dbname=shop user=agent sslmode=disable`,
      ],
      { env: { ...process.env, PGPASSWORD: victim, PGAPPNAME: 'warden-test' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    // Writes after the cut may meet a closed pipe.
    child.stdin.on('error', () => {});
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      child.stdin.write("SELECT 'before-' || 40 + 2;\n");
      await until('the first result', async () => (stdout.includes('before-42') ? true : undefined));

      const res = await api(b, admin, 'POST', '/api/v1/revocations', {
        sub: 'psql-victim',
        issuer: oidc.issuer,
        reason: 'leaked token',
      });
      assert.equal(res.status, 201, res.text);
      // A refreshes its revocations from the store on an interval: the session keeps working
      // until then and is cut at its first statement after it.
      let sent = 0;
      await until(
        'the refusal on A',
        async () => {
          if (/FATAL/.test(stderr)) return true;
          if (child.exitCode === null) child.stdin.write(`SELECT 'probe-' || ${++sent};\n`);
          await new Promise((r) => setTimeout(r, 100));
          return undefined;
        },
        200,
      );
      child.stdin.end();
      await exited;
      assert.match(stderr, /FATAL: {2}session ended: identity token was revoked/);
      assert.match(stderr, /connection to server was lost|server closed the connection/);
      // Each probe before the cut was answered; the one that met the revocation was not.
      const answered = (stdout.match(/probe-\d+/g) ?? []).length;
      assert.ok(answered < sent, `answered ${answered} of ${sent}`);
      // A fresh connection of the revoked principal is refused on A; someone else keeps working.
      const again = new pg.Client({ connectionString: a.url(victim) });
      again.on('error', () => {});
      await assert.rejects(again.connect(), (err: PgError) => err.code === '28000');
      await again.end().catch(() => {});
      assert.equal((await bystander.query('SELECT 7 AS n')).rows[0].n, 7);
    } finally {
      child.kill();
      await bystander.end().catch(() => {});
    }
  });

  it('sessions on both instances at once extend one audit chain: it verifies online on B and offline from the store', async () => {
    const sessions: pg.Client[] = [];
    for (const gw of [a, b, a, b]) {
      const c = new pg.Client({
        connectionString: gw.url(await oidc.getToken({ sub: `chain-${sessions.length}`, groups: ['agents'] })),
      });
      await c.connect();
      sessions.push(c);
    }
    await Promise.all(
      sessions.map(async (c, i) => {
        for (let n = 0; n < 25; n++) assert.equal((await c.query(`SELECT ${i * 100 + n} AS n`)).rows[0].n, i * 100 + n);
      }),
    );
    for (const c of sessions) await c.end();

    // A DBA session on A whose recording B serves in the next test.
    const dba = new pg.Client({ connectionString: a.url(await oidc.getToken({ sub: 'dba-on-a', groups: ['dba'] })) });
    await dba.connect();
    const { rows } = await dba.query('SELECT id, email FROM customers ORDER BY id LIMIT 3');
    clearEmail = String(rows[0].email);
    assert.match(clearEmail, /@/, 'the DBA reads emails in clear');
    await dba.end();

    // Every answered statement is audited by the instance that served it, all in one chain.
    const counts = await until('every session closed and audited', async () => {
      const r = await runSql(
        storeDb.url,
        `SELECT count(*) FILTER (WHERE type = 'operation' AND actor LIKE 'chain-%') AS ops,
                count(*) FILTER (WHERE type = 'recording.digest') AS digests,
                count(*) FILTER (WHERE type = 'gateway.start') AS starts,
                count(*) FILTER (WHERE type = 'revocation') AS revocations
           FROM audit_log`,
      );
      const c = Object.fromEntries(Object.entries(r[0]!).map(([k, v]) => [k, Number(v)]));
      return c.ops === 100 && (c.digests ?? 0) >= 8 ? c : undefined;
    });
    assert.equal(counts.starts, 2, 'both instances write to the one log');
    assert.equal(counts.revocations, 1, 'the revocation made on B');
    const session = await until('the DBA session row', async () => {
      const r = await runSql(
        storeDb.url,
        "SELECT id, instance, recording_path FROM sessions WHERE sub = 'dba-on-a' AND ended_at IS NOT NULL",
      );
      return r[0];
    });
    recordedOnA = String(session.id);
    assert.equal(session.recording_path, `store:${recordedOnA}.jsonl`, 'kept in the store');
    const instances = await runSql(storeDb.url, "SELECT DISTINCT instance FROM sessions WHERE sub LIKE 'chain-%'");
    assert.equal(instances.length, 2, 'sessions of both instances');

    const online = await runWarden(['audit', '--verify', '--gateway', b.apiUrl, '--token', admin]);
    assert.equal(online.code, 0, online.stderr + online.stdout);
    assert.match(online.stdout, /audit chain intact: \d+ entries verified/);

    const offline = await runWarden(['audit', 'verify', '--store', storeDb.url, '--json']);
    assert.equal(offline.code, 0, offline.stderr + offline.stdout);
    const v = JSON.parse(offline.stdout);
    assert.equal(v.ok, true);
    assert.ok(v.checked > 100, `${v.checked} entries verified`);
    // Every recording (kept in the store, whichever instance wrote it) matches its digest.
    assert.equal(v.recordings.missing.length, 0, JSON.stringify(v.recordings));
    assert.equal(v.recordings.edited.length, 0);
    assert.ok(v.recordings.checked >= 8, JSON.stringify(v.recordings));
  });

  it('B serves and replays the session recorded on A, masked for the reader; an edit in the store is caught', async () => {
    assert.ok(recordedOnA, 'recorded in the test before');
    // Nothing of it is in A's (or B's) recordings folder: it is in the store.
    for (const gw of [a, b]) {
      const files = await readdir(join(gw.dir, 'recordings')).catch(() => [] as string[]);
      assert.ok(!files.some((f) => f.startsWith(recordedOnA)), files.join(','));
    }
    const meta = await api(b, admin, 'GET', `/api/v1/sessions/${recordedOnA}`);
    assert.equal(meta.status, 200, meta.text);
    assert.equal(JSON.parse(meta.text).session.recording, `${recordedOnA}.jsonl`, 'a name, no store path');

    const rec = await api(b, admin, 'GET', `/api/v1/sessions/${recordedOnA}/recording`);
    assert.equal(rec.status, 200, rec.text);
    assert.match(String(rec.type), /ndjson/);
    const events = rec.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      [events[0]!.type, events[0]!.sub, events.at(-1)!.type],
      ['session.start', 'dba-on-a', 'session.end'],
    );
    assert.ok(
      events.some((e) => e.type === 'operation' && String(e.text).includes('FROM customers')),
      rec.text,
    );
    // The admin reading it is no DBA: the emails the DBA saw are masked for them.
    assert.ok(
      events.some((e) => e.type === 'result'),
      rec.text,
    );
    assert.ok(!rec.text.includes(clearEmail), rec.text);

    // `warden replay` against B prints the timeline; then A stops and B still serves it.
    await a.stop();
    const replay = await runWarden(['replay', recordedOnA, '--gateway', b.apiUrl, '--token', admin]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, new RegExp(`session ${recordedOnA} started: dba-on-a \\(dba\\)`));
    assert.match(replay.stdout, /ALLOW +SELECT id, email FROM customers ORDER BY id LIMIT 3/);
    assert.ok(!replay.stdout.includes(clearEmail), replay.stdout);

    // An edit made in the store after the digest was audited is reported by offline verify.
    await runSql(
      storeDb.url,
      `UPDATE recording_chunks SET data = convert_to(replace(convert_from(data, 'UTF8'), 'LIMIT 3', 'LIMIT 4'), 'UTF8')
        WHERE session_id = '${recordedOnA}'`,
    );
    const edited = await runWarden(['audit', 'verify', '--store', storeDb.url]);
    assert.equal(edited.code, 1, edited.stdout);
    assert.match(edited.stderr, new RegExp(`recording of session ${recordedOnA} .* was EDITED`));
  });
});
