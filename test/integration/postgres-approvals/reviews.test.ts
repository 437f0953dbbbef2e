// Issue 4 acceptance through the real PostgreSQL path: a statement sent to review, approved by
// another identity (from another process, the CLI), runs exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { startShopPostgres, startTestGateway, TEST_POLICY, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { api, connect, expectReview } from './helpers.js';

describe('per-statement reviews through PostgreSQL', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  before(async () => {
    target = await startShopPostgres();
    // A second review rule needing two DBAs, for N-of-M through the real path.
    const policy = TEST_POLICY.replace(
      'masking:',
      `  - name: truncate-needs-two
    groups: [agents]
    when: op.kind == 'sql' && 'update' in op.sql.kinds && 'orders' in op.sql.writtenTables && !op.sql.allWritesFiltered
    action: review
    approvers: { groups: [dba], count: 2 }
    message: mass updates of orders need two DBAs
masking:`,
    );
    gw = await startTestGateway(target, { policy });
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('DELETE without WHERE: review, approval by a DBA from the CLI, runs once, then needs a new review', async () => {
    const agentToken = await gw.token('agent-a', ['agents']);
    const dbaToken = await gw.token('dba-1', ['dba']);
    const outsider = await gw.token('agent-b', ['agents']);
    const agent = await connect(gw, agentToken);
    try {
      const id = await expectReview(agent, 'DELETE FROM orders');

      const self = await api<{ code: string }>(gw, agentToken, 'POST', `/api/v1/reviews/${id}/approve`, {});
      assert.equal(self.status, 403, 'the requester cannot approve its own review');
      const other = await api(gw, outsider, 'POST', `/api/v1/reviews/${id}/approve`, {});
      assert.equal(other.status, 404, 'an identity outside the approver group cannot see the review, nor approve it');

      const cli = await runWarden([
        'reviews',
        'approve',
        id,
        '--reason',
        'cleanup ticket 7',
        '--gateway',
        gw.apiUrl,
        '--token',
        dbaToken,
      ]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /approved/);

      // The session is still usable and the changed statement is not covered.
      const changed = await expectReview(agent, 'DELETE FROM orders WHERE true');
      assert.notEqual(changed, id);

      const ran = await agent.query('DELETE FROM orders');
      assert.equal(ran.rowCount, 200);

      const again = await expectReview(agent, 'DELETE FROM orders');
      assert.notEqual(again, id, 'an approval is used once');

      const shown = await api<{ review: { state: string; approvals: { sub: string }[] } }>(
        gw,
        dbaToken,
        'GET',
        `/api/v1/reviews/${id}`,
      );
      assert.equal(shown.body.review.state, 'executed');
      assert.equal(shown.body.review.approvals[0]?.sub, 'dba-1');
    } finally {
      await agent.end();
    }
  });

  it('a denied review stays refused', async () => {
    const agentToken = await gw.token('agent-c', ['agents']);
    const dbaToken = await gw.token('dba-1', ['dba']);
    const agent = await connect(gw, agentToken);
    try {
      const id = await expectReview(agent, 'UPDATE customers SET notes = NULL');
      const denied = await runWarden(['reviews', 'deny', id, '--gateway', gw.apiUrl, '--token', dbaToken]);
      assert.equal(denied.code, 0, denied.stderr);
      const next = await expectReview(agent, 'UPDATE customers SET notes = NULL');
      assert.notEqual(next, id);
      const r = await api<{ review: { state: string } }>(gw, dbaToken, 'GET', `/api/v1/reviews/${id}`);
      assert.equal(r.body.review.state, 'denied');
    } finally {
      await agent.end();
    }
  });

  it('N-of-M: two distinct DBAs must approve', async () => {
    const agentToken = await gw.token('agent-d', ['agents']);
    const dba1 = await gw.token('dba-1', ['dba']);
    const dba2 = await gw.token('dba-2', ['dba']);
    const agent = await connect(gw, agentToken);
    try {
      const sql = "UPDATE orders SET status = 'archived'";
      const id = await expectReview(agent, sql);
      const first = await api<{ review: { state: string } }>(gw, dba1, 'POST', `/api/v1/reviews/${id}/approve`, {});
      assert.equal(first.status, 200);
      assert.equal(first.body.review.state, 'pending');
      const twice = await api(gw, dba1, 'POST', `/api/v1/reviews/${id}/approve`, {});
      assert.equal(twice.status, 403, 'one approver counts once');
      await expectReview(agent, sql); // still pending: the same review comes back
      const second = await api<{ review: { state: string } }>(gw, dba2, 'POST', `/api/v1/reviews/${id}/approve`, {});
      assert.equal(second.body.review.state, 'approved');
      const ran = await agent.query(sql);
      assert.ok((ran.rowCount ?? 0) >= 0);
    } finally {
      await agent.end();
    }
  });
});
