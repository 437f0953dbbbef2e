// REST /api/v1/exec through a real gateway and PostgreSQL, and `warden exec` as a child process:
// the operation takes the PostgreSQL front door's path (decided, masked, recorded, audited).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';

const WARDEN = fileURLToPath(new URL('../../../bin/warden.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [WARDEN, ...args],
      { env: { ...process.env, WARDEN_TOKEN: '', WARDEN_GATEWAY: '' } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

describe('REST exec', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let agent: string;
  let dba: string;
  let nobody: string;

  const exec = async (token: string | null, body: unknown) => {
    const res = await fetch(`${gw.apiUrl}/api/v1/exec`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      // biome-ignore lint/suspicious/noExplicitAny: fields are asserted one by one
      body: (await res.json()) as Record<string, any>,
    };
  };

  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target);
    agent = await gw.token('agent-1', ['agents']);
    dba = await gw.token('dana', ['dba']);
    nobody = await gw.token('sam', ['sales']);
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('returns masked rows for an agent and clear rows for a dba', async () => {
    const sql = 'SELECT id, name, email AS e FROM customers ORDER BY id LIMIT 2';
    const a = await exec(agent, { connection: 'shop', input: sql });
    assert.equal(a.status, 200);
    assert.equal(a.body.outcome, 'ok');
    assert.equal(a.body.effect, 'mask');
    const [first] = a.body.results;
    assert.deepEqual(first.columns, ['id', 'name', 'e']);
    assert.equal(first.rowCount, 2);
    assert.equal(first.rows[0][0], 1);
    assert.equal(first.rows[0][1], 'Ada Lovelace');
    assert.notEqual(first.rows[0][2], 'ada@example.com');
    assert.doesNotMatch(JSON.stringify(a.body), /ada@example\.com/);

    const d = await exec(dba, { connection: 'shop', input: sql });
    assert.equal(d.body.outcome, 'ok');
    assert.equal(d.body.effect, 'allow');
    assert.equal(d.body.results[0].rows[0][2], 'ada@example.com');
  });

  it('runs every statement of a multi-statement input and caps rows', async () => {
    const r = await exec(agent, {
      connection: 'shop',
      input: 'SELECT 1 AS one; SELECT id FROM orders ORDER BY id',
      maxRows: 5,
    });
    assert.equal(r.body.outcome, 'ok');
    assert.equal(r.body.results.length, 2);
    assert.deepEqual(r.body.results[0].rows, [[1]]);
    assert.equal(r.body.results[1].rows.length, 5);
    assert.equal(r.body.results[1].rowCount, 200);
    assert.equal(r.body.results[1].truncated, true);
  });

  it('reports a block, a review and a target error as outcomes', async () => {
    const blocked = await exec(agent, { connection: 'shop', input: 'DROP TABLE orders' });
    assert.equal(blocked.status, 200);
    assert.equal(blocked.body.outcome, 'blocked');
    assert.equal(blocked.body.effect, 'block');
    assert.deepEqual(blocked.body.rules, ['no-ddl']);
    assert.match(blocked.body.message, /^blocked by rule no-ddl: schema changes are not allowed/);

    const review = await exec(agent, { connection: 'shop', input: 'DELETE FROM orders' });
    assert.equal(review.body.outcome, 'review');
    assert.match(review.body.reviewId, /^r/);
    assert.deepEqual(review.body.approvers, { groups: ['dba'], count: 1 });
    assert.deepEqual(review.body.rules, ['unbounded-writes-need-review']);

    const missing = await exec(agent, { connection: 'shop', input: 'SELECT * FROM no_such_table' });
    assert.equal(missing.body.outcome, 'error');
    assert.equal(missing.body.sqlstate, '42P01');
  });

  it('answers API errors as problem details, and keeps unusable connections invisible', async () => {
    const noToken = await exec(null, { connection: 'shop', input: 'SELECT 1' });
    assert.equal(noToken.status, 401);
    assert.match(noToken.type, /application\/problem\+json/);
    assert.equal(noToken.body.code, 'WARDEN_TOKEN_INVALID');

    const unknown = await exec(agent, { connection: 'nope', input: 'SELECT 1' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'WARDEN_CONNECTION_UNKNOWN');

    const invisible = await exec(nobody, { connection: 'shop', input: 'SELECT 1' });
    assert.equal(invisible.status, 404);
    assert.equal(invisible.body.detail, "no connection named 'shop'");

    const bad = await exec(agent, { connection: 'shop' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.status, 400);
    assert.match(bad.type, /application\/problem\+json/);

    // The refusal at the front door was audited as a denied session.
    const denied = await gw.running.gateway.audit.list({ type: 'session.denied' });
    assert.ok(denied.some((e) => e.actor === 'sam' && e.connection === 'shop'));
  });

  it('records each exec as a session of the caller', async () => {
    const before = (await gw.running.gateway.store.listSessions({ limit: 1000, sub: 'agent-1' })).length;
    await exec(agent, { connection: 'shop', input: 'SELECT 42' });
    const sessions = await gw.running.gateway.store.listSessions({ limit: 1000, sub: 'agent-1' });
    assert.equal(sessions.length, before + 1);
  });

  it('warden exec prints a masked table, JSON with --json, and exits 1 on a block', async () => {
    const common = ['--gateway', gw.apiUrl, '--token', agent];
    const t = await cli(['exec', 'shop', 'SELECT id, name, email FROM customers ORDER BY id LIMIT 2', ...common]);
    assert.equal(t.code, 0, t.stderr);
    const lines = t.stdout.trim().split('\n');
    assert.match(lines[0] as string, /^id\s+name\s+email$/);
    assert.match(lines[2] as string, /^1\s+Ada Lovelace\s+\S+/);
    assert.doesNotMatch(t.stdout, /ada@example\.com/);
    assert.match(t.stdout, /\(2 rows\) — masked/);

    const j = await cli(['exec', 'shop', 'SELECT email FROM customers WHERE id = 1', '--json', ...common]);
    assert.equal(j.code, 0, j.stderr);
    const parsed = JSON.parse(j.stdout);
    assert.equal(parsed.outcome, 'ok');
    assert.equal(parsed.effect, 'mask');
    assert.notEqual(parsed.results[0].rows[0][0], 'ada@example.com');

    const b = await cli(['exec', 'shop', 'DROP TABLE customers', ...common]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /blocked by rule no-ddl/);
    assert.equal(b.stdout, '');
  });

  it('warden exec --wait waits for the approval, then runs the statement', async () => {
    const common = ['--gateway', gw.apiUrl, '--token', agent];
    const sql = 'UPDATE orders SET status = status WHERE true';
    const child = cli(['exec', 'shop', sql, '--wait', '30s', ...common]);
    // The review appears in the dba's inbox; approve it through the REST API.
    let reviewId: string | undefined;
    for (let i = 0; i < 600 && !reviewId; i++) {
      const res = await fetch(`${gw.apiUrl}/api/v1/reviews?state=pending`, {
        headers: { authorization: `Bearer ${dba}` },
      });
      const { reviews } = (await res.json()) as { reviews: { id: string; text: string }[] };
      reviewId = reviews.find((r) => r.text === sql)?.id;
      if (!reviewId) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(reviewId, 'the review was created');
    const ok = await fetch(`${gw.apiUrl}/api/v1/reviews/${reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dba}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(ok.status, 200);
    const r = await child;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`review ${reviewId}`));
    assert.match(r.stdout, /^UPDATE 200$/m);
  });
});
