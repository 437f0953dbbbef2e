// Impact preview through the real path: an agent's DELETE goes to review over the PostgreSQL
// front door; the review carries the planner's estimate and an exact count equal to a direct
// count on the target, the rows are untouched, and the REST API, `warden reviews show` and the
// webhook payload all show it. A probe the policy would not let the requester run is not run.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { approvalsOf } from '../../../src/approvals/index.js';
import { runWarden } from '../../helpers/cli.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { api, connect, expectReview } from '../postgres-approvals/helpers.js';

const IMPACT_POLICY = `
access:
  - groups: [agents]
    connections: [shop]
  - groups: [dba]
    connections: [shop]
rules:
  - name: deletes-need-review
    groups: [agents]
    when: op.kind == 'sql' && op.sql.kinds.exists(k, k in ['delete', 'update'])
    action: review
    approvers: { groups: [dba], count: 1 }
    message: deletes and updates need a DBA
  - name: customers-are-private
    groups: [agents]
    when: op.kind == 'sql' && op.sql.tables.exists(t, t == 'customers') && !op.sql.writes
    action: block
    message: agents may not read customers
`;

interface Impact {
  status: string;
  summary: string;
  verb?: string;
  table?: string;
  estimatedRows: number | null;
  exactRows: number | null;
  reason?: string;
}

describe('impact preview of a reviewed write', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let hook: Server;
  const payloads: { event: string; review: { id: string; impact?: Impact; text: string } }[] = [];
  let direct: pg.Client;

  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        payloads.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    target = await startShopPostgres();
    gw = await startTestGateway(target, {
      policy: IMPACT_POLICY,
      extraYaml: `notifications:\n  webhooks:\n    - url: ${hookUrl}\n      events: [review.created]\n`,
    });
    direct = new pg.Client({
      host: '127.0.0.1',
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
    });
    await direct.connect();
    await direct.query("UPDATE orders SET status = 'stale' WHERE id % 7 = 0");
    await direct.query('ANALYZE orders');
  });
  after(async () => {
    await direct?.end();
    await gw?.stop();
    await target?.stop();
    await new Promise<void>((r) => hook.close(() => r()));
  });

  const countStale = async () =>
    Number((await direct.query("SELECT count(*) FROM orders WHERE status = 'stale'")).rows[0].count);

  it('DELETE … WHERE: exact count equals a direct count, the planner estimate is there, nothing is deleted', async () => {
    const before = await countStale();
    assert.ok(before > 0);
    const agent = await connect(gw, await gw.token('agent-i', ['agents']));
    const dba = await gw.token('dba-i', ['dba']);
    try {
      const id = await expectReview(agent, "DELETE FROM orders WHERE status = 'stale'");
      assert.equal(await countStale(), before, 'the preview never runs the write');
      const { status, body } = await api<{ review: { impact: Impact } }>(gw, dba, 'GET', `/api/v1/reviews/${id}`);
      assert.equal(status, 200);
      const impact = body.review.impact;
      assert.equal(impact.status, 'known');
      assert.equal(impact.verb, 'delete');
      assert.equal(impact.table, 'orders');
      assert.equal(impact.exactRows, before);
      assert.equal(typeof impact.estimatedRows, 'number');
      assert.ok(impact.estimatedRows! > 0, 'ANALYZEd: the planner expects some rows');
      assert.match(impact.summary, new RegExp(`^would delete ${before} rows`));

      const cli = await runWarden(['reviews', 'show', id, '--gateway', gw.apiUrl, '--token', dba]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, new RegExp(`impact +would delete ${before} rows`));

      await approvalsOf(gw.running.gateway.approvals).notifier.drain();
      const created = payloads.find((p) => p.review.id === id);
      assert.ok(created, 'the review.created webhook was delivered');
      assert.equal(created.review.impact?.exactRows, before);
      assert.match(created.review.impact!.summary, /would delete/);

      await api(gw, dba, 'POST', `/api/v1/reviews/${id}/approve`, {});
      const done = await agent.query("DELETE FROM orders WHERE status = 'stale'");
      assert.equal(done.rowCount, before, 'the approved DELETE deleted what the preview counted');
    } finally {
      await agent.end();
    }
  });

  it('a probe the requester could not run is not run: no count of a table the policy hides', async () => {
    const agent = await connect(gw, await gw.token('agent-j', ['agents']));
    const dba = await gw.token('dba-j', ['dba']);
    try {
      const id = await expectReview(agent, "UPDATE customers SET notes = 'x' WHERE ssn LIKE '1%'");
      const { body } = await api<{ review: { impact: Impact } }>(gw, dba, 'GET', `/api/v1/reviews/${id}`);
      assert.equal(body.review.impact.exactRows, null, 'a count would reveal rows of a blocked table');
      assert.match(body.review.impact.reason!, /policy does not let the requester count/);
    } finally {
      await agent.end();
    }
  });

  it('a failing probe leaves the impact unknown and the review stands; errors never echo literals', async () => {
    const agent = await connect(gw, await gw.token('agent-k', ['agents']));
    const dba = await gw.token('dba-k', ['dba']);
    try {
      const id = await expectReview(agent, "DELETE FROM orders WHERE amount = 'not-a-number-secret'");
      const { body } = await api<{ review: { state: string; impact: Impact } }>(
        gw,
        dba,
        'GET',
        `/api/v1/reviews/${id}`,
      );
      assert.equal(body.review.state, 'pending');
      assert.equal(body.review.impact.status, 'unknown');
      assert.match(body.review.impact.summary, /^impact unknown: .*SQLSTATE 22P02/);
      assert.doesNotMatch(JSON.stringify(body.review.impact), /not-a-number-secret/);
    } finally {
      await agent.end();
    }
  });

  it('a slow condition hits the statement timeout: estimate known, count unknown, review created', async () => {
    const agent = await connect(gw, await gw.token('agent-l', ['agents']));
    const dba = await gw.token('dba-l', ['dba']);
    try {
      const t0 = Date.now();
      const id = await expectReview(agent, 'DELETE FROM orders WHERE pg_sleep(10) IS NOT NULL');
      assert.ok(Date.now() - t0 < 5000, 'the review does not wait for the slow probe');
      const { body } = await api<{ review: { impact: Impact } }>(gw, dba, 'GET', `/api/v1/reviews/${id}`);
      assert.equal(body.review.impact.exactRows, null);
      assert.equal(typeof body.review.impact.estimatedRows, 'number');
      assert.match(body.review.impact.reason!, /statement timeout/);
    } finally {
      await agent.end();
    }
  });
});
