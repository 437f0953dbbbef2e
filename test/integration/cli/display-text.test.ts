// Review text that cannot lie (issue 9, item 4), end to end: an agent sends a statement whose
// comment erases its own line and prints a harmless one over it; what the approver reads through
// the real `warden` CLI, and what Slack receives from the real gateway, shows the escape codes and
// never the raw bytes. `--json` keeps the exact text.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runWarden } from '../../helpers/cli.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';

/** Erase the line (ESC[2K), back to column 0 (CR), then a line that looks like a harmless review. */
const ATTACK = 'delete from audit_notes /* \x1b[2K\r  operation  sql: select 1 */';
const ALIAS_ATTACK = 'delete from audit_notes as "\x1b[2K\r  operation  sql: select 1"';
const SHOWN = 'delete from audit_notes /* \\x1b[2K\\r  operation  sql: select 1 */';

/** Bytes a terminal acts on: ESC, CR, C1 CSI (UTF-8 C2 9B), and RLO (UTF-8 E2 80 AE). */
function assertNoRawControls(out: string, what: string): void {
  const bytes = Buffer.from(out, 'utf8');
  assert.equal(bytes.indexOf(0x1b), -1, `${what}: raw ESC in ${JSON.stringify(out)}`);
  assert.equal(bytes.indexOf(0x0d), -1, `${what}: raw CR in ${JSON.stringify(out)}`);
  assert.equal(bytes.indexOf(Buffer.from([0xc2, 0x9b])), -1, `${what}: raw CSI`);
  assert.equal(bytes.indexOf(Buffer.from([0xe2, 0x80, 0xae])), -1, `${what}: raw U+202E`);
}

describe('warden CLI and Slack show control characters escaped', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let hook: Server;
  const slack: { event: string; text: string; raw: string }[] = [];
  let dba: string;
  let agent: string;
  let reviewId: string;

  before(async () => {
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        slack.push({ event: String(req.headers['x-warden-event']), text: String(JSON.parse(raw).text), raw });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/services/T0/B0/X`;
    target = await startShopPostgres();
    // The table exists, created by its owner, so only the review stands between the agent and it.
    await runSql(target.url, 'create table if not exists audit_notes (id int, note text)');
    gw = await startTestGateway(target, {
      extraYaml: `notifications:\n  webhooks:\n    - url: ${hookUrl}\n      format: slack\n`,
    });
    dba = await gw.token('dana', ['dba']);
    agent = await gw.token('agent-7', ['agents']);

    // The agent sends the statement with node-postgres; the unbounded-write rule holds it for review.
    const c = new pg.Client({ connectionString: gw.url(agent) });
    await c.connect();
    const err = (await c.query(ATTACK).then(
      () => assert.fail('the delete ran without review'),
      (e: unknown) => e,
    )) as { message: string; hint?: string };
    await c.end();
    const id = /\br_[0-9a-z]+/.exec(`${err.message} ${err.hint ?? ''}`)?.[0];
    assert.ok(id, `a review id in: ${err.message}`);
    reviewId = id;
    // Notifications carry the normalized statement (comments and literals removed): a quoted
    // alias is kept there, so this one brings its control characters to Slack.
    const c2 = new pg.Client({ connectionString: gw.url(agent) });
    await c2.connect();
    await c2.query(ALIAS_ATTACK).then(
      () => assert.fail('the delete ran without review'),
      () => undefined,
    );
    await c2.end();
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
    await new Promise<void>((r) => hook?.close(() => r()) ?? r());
  });

  const cli = (args: string[], token = dba) =>
    runWarden([...args, '--gateway', gw.apiUrl, '--token', token], { env: gw.env });

  it('warden reviews show prints the escaped statement, never ESC or CR', async () => {
    const r = await cli(['reviews', 'show', reviewId]);
    assert.equal(r.code, 0, r.stderr);
    assertNoRawControls(r.stdout, 'reviews show');
    assert.ok(r.stdout.includes(`  operation  sql: ${SHOWN}\n`), r.stdout);
    // The fake "operation" line exists only inside the real one.
    assert.equal(r.stdout.split('\n').filter((l) => l.includes('operation')).length, 1);
  });

  it('warden reviews list prints the escaped statement in its table', async () => {
    const r = await cli(['reviews', 'list']);
    assert.equal(r.code, 0, r.stderr);
    assertNoRawControls(r.stdout, 'reviews list');
    const row = r.stdout.split('\n').find((l) => l.startsWith(reviewId));
    assert.ok(row, r.stdout);
    assert.ok(row.includes('delete from audit_notes /* \\x1b[2K\\r'), row);
  });

  it('--json keeps the exact text as data', async () => {
    const show = await cli(['reviews', 'show', reviewId, '--json']);
    assert.equal(show.code, 0, show.stderr);
    assert.equal((JSON.parse(show.stdout) as { text: string }).text, ATTACK);
    const list = await cli(['reviews', 'list', '--json']);
    const mine = (JSON.parse(list.stdout) as { id: string; text: string }[]).find((x) => x.id === reviewId);
    assert.equal(mine?.text, ATTACK);
  });

  it('a multi-line statement keeps its lines behind a gutter, so none passes for a field', async () => {
    const multi = 'delete from audit_notes /*\n  why        looks fine\n\x1b[1A\x1b[2K */';
    const c = new pg.Client({ connectionString: gw.url(agent) });
    await c.connect();
    const err = (await c.query(multi).catch((e: unknown) => e)) as { message: string; hint?: string };
    await c.end();
    const id = /\br_[0-9a-z]+/.exec(`${err.message} ${err.hint ?? ''}`)?.[0];
    assert.ok(id, err.message);
    const r = await cli(['reviews', 'show', id]);
    assert.equal(r.code, 0, r.stderr);
    assertNoRawControls(r.stdout, 'multi-line show');
    const lines = r.stdout.split('\n');
    assert.ok(lines.includes('  operation  sql:'), r.stdout);
    assert.ok(lines.includes('             |   why        looks fine'), r.stdout);
    assert.ok(lines.includes('             | delete from audit_notes /*'), r.stdout);
    assert.ok(lines.includes('             | \\x1b[1A\\x1b[2K */'), r.stdout);
    assert.equal(lines.filter((l) => l.startsWith('  why')).length, 1, 'one real "why" line');
  });

  it('warden exec shows the review message escaped', async () => {
    const r = await cli(['exec', 'shop', ATTACK], agent);
    assert.equal(r.code, 1);
    assertNoRawControls(r.stdout + r.stderr, 'exec');
    assert.match(r.stderr, /approval required/);
  });

  it('access request reasons are escaped in warden access list and in the request output', async () => {
    const oncall = await gw.token('olivia', ['oncall']);
    const reason = 'incident 42\r\x1b[2Kroutine check \u202edelbane\u202c';
    const req = await cli(['access', 'request', 'shop', '--for', '30m', '--reason', reason], oncall);
    assert.equal(req.code, 0, req.stderr);
    assertNoRawControls(req.stdout, 'access request');
    const list = await cli(['access', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assertNoRawControls(list.stdout, 'access list');
    assert.ok(list.stdout.includes('incident 42\\r\\x1b[2Kroutine check \\u202edelbane\\u202c'), list.stdout);
    const json = await cli(['access', 'list', '--json']);
    assert.ok(
      (JSON.parse(json.stdout) as { reason: string }[]).some((x) => x.reason === reason),
      'exact reason as data',
    );
  });

  it('warden policy test shows facts and names escaped', async () => {
    const r = await runWarden(
      ['policy', 'test', '-c', gw.configPath, '--as', 'a:agents', 'shop', 'select * from "\x1b[2Jt\u202e"'],
      { env: gw.env },
    );
    assert.equal(r.code, 0, r.stderr);
    assertNoRawControls(r.stdout, 'policy test');
    // The analysis lowercases names; the point is the JSON escapes in place of the raw characters.
    assert.match(r.stdout, /tables: \["\\u001b\[2jt\\u202e"\]/i, r.stdout);
  });

  it('errors quoting the input are escaped (unknown connection)', async () => {
    const r = await cli(['exec', 'sh\x1b[2Jop', 'select 1'], agent);
    assert.notEqual(r.code, 0);
    assertNoRawControls(r.stderr, 'error message');
  });

  it('the Slack text from the real gateway has no raw control byte', async () => {
    // Deliveries are in the background: wait for the alias review's and the access request's.
    const arrived = () =>
      slack.some((x) => x.text.includes('as "')) && slack.some((x) => x.event === 'access.requested');
    for (let i = 0; i < 100 && !arrived(); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const created = slack.filter((s) => s.event === 'review.created');
    assert.ok(created.length >= 1, `deliveries: ${slack.map((s) => s.event).join(', ')}`);
    for (const s of slack) {
      assertNoRawControls(s.text, `slack ${s.event}`);
      assert.doesNotMatch(s.text, /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/u, s.text);
    }
    assert.ok(
      created.some((s) => s.text.includes('as "\\x1b[2K\\r operation sql: select 1"')),
      `escaped erase in: ${created.map((s) => s.text).join('\n')}`,
    );
    const access = slack.find((s) => s.event === 'access.requested');
    assert.ok(access?.text.includes('\\r\\x1b[2Kroutine check \\u202e'), access?.text);
  });
});
