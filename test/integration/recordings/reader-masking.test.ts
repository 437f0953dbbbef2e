// A DBA session (unmaskedFor) records clear values; whoever reads the recording later gets it
// through their OWN masking plan: an admin who is not in unmaskedFor sees no clear value through
// the API or `warden replay`; a DBA reader sees them. Session listings never show server paths.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import pg from 'pg';
import { runWarden } from '../../helpers/cli.js';
import { shopGatewaySuite } from '../../helpers/gateway.js';

const CLEAR = [
  'ada@example.com',
  'alan@example.org',
  'grace@example.net',
  '123-45-6789',
  '219-09-9999',
  '+1 415 555 0132',
  '4111 1111 1111 1111',
  '5555555555554444',
];

function clearValuesIn(text: string): string[] {
  return CLEAR.filter((v) => text.includes(v));
}

describe('recordings are read through the reader’s masking plan', () => {
  const suite = shopGatewaySuite();
  let sessionId: string;
  let recordingPath: string;

  async function get(token: string, path: string): Promise<Response> {
    return fetch(`${suite.gw.apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  }

  before(async () => {
    const gw = suite.gw;
    const dba = await gw.token('dba-recorded', ['dba']);
    const c = new pg.Client({ connectionString: gw.url(dba) });
    await c.connect();
    const r = await c.query('SELECT id, name, email, phone, ssn, card_number FROM customers ORDER BY id LIMIT 3');
    assert.equal(r.rows[0].email, 'ada@example.com', 'the DBA sees clear values');
    await c.query('SELECT email AS contact, lower(ssn) AS s FROM customers WHERE id = 2');
    await c.query("SELECT name FROM customers WHERE email = 'grace@example.net'");
    await c.query("SELECT 'reach me at ada@example.com' AS note");
    await c.end();
    // The session row is ended asynchronously after the client leaves.
    const admin = await gw.token('admin-lister', ['admins']);
    for (let i = 0; i < 100 && !sessionId; i++) {
      const { sessions } = (await (await get(admin, '/api/v1/sessions?limit=50')).json()) as {
        sessions: { id: string; sub: string; endedAt: number | null }[];
      };
      const s = sessions.find((x) => x.sub === 'dba-recorded' && x.endedAt !== null);
      if (s) sessionId = s.id;
      else await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(sessionId, 'the DBA session is listed');
    recordingPath = (await gw.running.gateway.store.getSession(sessionId))!.recordingPath;
    const stored = await readFile(recordingPath, 'utf8');
    assert.ok(clearValuesIn(stored).length >= 4, 'precondition: the stored recording holds the DBA’s clear values');
  });

  it('an admin not in unmaskedFor: the API recording has no clear value', async () => {
    const admin = await suite.gw.token('auditor', ['admins']);
    const res = await get(admin, `/api/v1/sessions/${sessionId}/recording`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
    const text = await res.text();
    assert.deepEqual(clearValuesIn(text), []);
    const events = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ops = events.filter((e) => e.type === 'operation');
    assert.equal(ops.length, 4, 'every operation is still there');
    assert.ok(
      ops.some((e) => /WHERE email = 'g\*\*\*@example\.net'/.test(String(e.text))),
      'statement literals masked',
    );
    const first = events.find((e) => e.type === 'result') as { columns: string[]; rows: unknown[][] };
    assert.deepEqual(first.columns, ['id', 'name', 'email', 'phone', 'ssn', 'card_number']);
    for (const row of first.rows)
      for (const cell of row.slice(2)) assert.ok(cell === null || /\*/.test(String(cell)), String(cell));
  });

  it('an admin not in unmaskedFor: `warden replay` prints a timeline without clear values', async () => {
    const admin = await suite.gw.token('auditor', ['admins']);
    const r = await runWarden(['replay', sessionId, '--gateway', suite.gw.apiUrl, '--token', admin]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /session .* started: dba-recorded \(dba\) on shop/);
    assert.match(r.stdout, /ALLOW\s+SELECT name FROM customers WHERE email = 'g\*\*\*@example\.net'/);
    assert.deepEqual(clearValuesIn(r.stdout), []);
  });

  it('a DBA reader (unmaskedFor) sees the clear values, through the API and `warden replay`', async () => {
    const dbaAdmin = await suite.gw.token('head-dba', ['admins', 'dba']);
    const text = await (await get(dbaAdmin, `/api/v1/sessions/${sessionId}/recording`)).text();
    assert.equal(text, await readFile(recordingPath, 'utf8'), 'unmasked readers get the recording as stored');
    const r = await runWarden(['replay', sessionId, '--gateway', suite.gw.apiUrl, '--token', dbaAdmin]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes("WHERE email = 'grace@example.net'"), r.stdout);
    // The DBA who owns the session reads it clear too (a non-admin sees their own sessions).
    const owner = await suite.gw.token('dba-recorded', ['dba']);
    assert.ok((await (await get(owner, `/api/v1/sessions/${sessionId}/recording`)).text()).includes('ada@example.com'));
  });

  it('the same subject, token now without the dba group, reads its own recording masked', async () => {
    const demoted = await suite.gw.token('dba-recorded', ['agents']);
    const text = await (await get(demoted, `/api/v1/sessions/${sessionId}/recording`)).text();
    assert.deepEqual(clearValuesIn(text), []);
  });

  it('session listings give the recording’s file name, never an absolute server path', async () => {
    const admin = await suite.gw.token('auditor', ['admins']);
    const list = await (await get(admin, '/api/v1/sessions')).text();
    const one = await (await get(admin, `/api/v1/sessions/${sessionId}`)).text();
    for (const body of [list, one]) {
      assert.ok(!body.includes(suite.gw.dir), body);
      assert.ok(!body.includes('recordingPath'), body);
    }
    assert.equal(JSON.parse(one).session.recording, `${sessionId}.jsonl`);
    const cli = await runWarden(['sessions', 'list', '--json', '--gateway', suite.gw.apiUrl, '--token', admin]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(!cli.stdout.includes(suite.gw.dir), cli.stdout);
  });
});
