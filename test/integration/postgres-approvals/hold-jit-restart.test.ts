// Issue 4 acceptance: held statements released by an approval from another process, JIT grants
// that expire or are revoked under a live session, and state that survives a gateway restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../../src/core/clock.js';
import { runWarden } from '../../helpers/cli.js';
import { startShopPostgres, startTestGateway, TEST_POLICY } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';
import { api, connect, expectReview } from './helpers.js';

const HOLD_POLICY = TEST_POLICY.replace(
  "    message: a write without a WHERE clause needs a DBA's approval",
  "    message: a write without a WHERE clause needs a DBA's approval\n    hold: 30s",
);

describe('hold, JIT and restart through PostgreSQL', () => {
  let target: TestPostgres;
  before(async () => {
    target = await startShopPostgres();
    await runSql(target.url, 'CREATE TABLE scratch (id int); INSERT INTO scratch SELECT generate_series(1, 10);');
  });
  after(async () => {
    await target?.stop();
  });

  it('hold: the statement waits, is approved from another process, and completes in the same session', async () => {
    const gw = await startTestGateway(target, { policy: HOLD_POLICY });
    try {
      const agent = await connect(gw, await gw.token('agent-h', ['agents']));
      const dba = await gw.token('dba-h', ['dba']);
      const started = Date.now();
      const held = agent.query('DELETE FROM scratch');
      let id: string | undefined;
      for (let i = 0; i < 100 && !id; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const list = await api<{ reviews: { id: string; requester: { sub: string } }[] }>(
          gw,
          dba,
          'GET',
          '/api/v1/reviews?state=pending',
        );
        id = list.body.reviews.find((r) => r.requester.sub === 'agent-h')?.id;
      }
      assert.ok(id, 'the held statement created a pending review');
      const cli = await runWarden(['reviews', 'approve', id!, '--gateway', gw.apiUrl, '--token', dba]);
      assert.equal(cli.code, 0, cli.stderr);
      const result = await held;
      assert.equal(result.rowCount, 10);
      assert.ok(Date.now() - started < 30_000, 'released before the hold timed out');
      const after = await agent.query('SELECT count(*)::int AS n FROM scratch');
      assert.equal(after.rows[0].n, 0, 'the session goes on');
      await agent.end();
    } finally {
      await gw.stop();
    }
  });

  it('JIT: request, approve, use; the grant expires under a live session; revoke cuts it too', async () => {
    const clock = new ManualClock(Date.now());
    const gw = await startTestGateway(target, { clock });
    try {
      const oncallToken = await gw.token('oncall-1', ['oncall'], 4 * 3600_000);
      const dba = await gw.token('dba-j', ['dba'], 4 * 3600_000);

      await assert.rejects(connect(gw, oncallToken), /just-in-time grant/);

      const req = await runWarden([
        'access',
        'request',
        'shop',
        '--for',
        '30m',
        '--reason',
        'incident 42',
        '--json',
        '--gateway',
        gw.apiUrl,
        '--token',
        oncallToken,
      ]);
      assert.equal(req.code, 0, req.stderr);
      const request = JSON.parse(req.stdout) as { id: string; state: string };
      assert.equal(request.state, 'pending');
      const approved = await api<{ request: { state: string } }>(
        gw,
        dba,
        'POST',
        `/api/v1/access-requests/${request.id}/approve`,
        {},
      );
      assert.equal(approved.body.request.state, 'approved');

      const c = await connect(gw, oncallToken);
      const ok = await c.query('SELECT count(*)::int AS n FROM customers');
      assert.equal(ok.rows[0].n, 50);
      clock.advance(31 * 60_000);
      await assert.rejects(
        c.query('SELECT 1'),
        (e: Error & { code?: string }) => e.code === '42501' && /access/i.test(e.message),
      );
      await c.end();

      // A second grant, revoked by the DBA while the session is open.
      const req2 = await api<{ request: { id: string } }>(gw, oncallToken, 'POST', '/api/v1/access-requests', {
        connection: 'shop',
        duration: '1h',
        reason: 'again',
      });
      await api(gw, dba, 'POST', `/api/v1/access-requests/${req2.body.request.id}/approve`, {});
      const c2 = await connect(gw, oncallToken);
      await c2.query('SELECT 1');
      const revoked = await runWarden([
        'access',
        'revoke',
        req2.body.request.id,
        '--gateway',
        gw.apiUrl,
        '--token',
        dba,
      ]);
      assert.equal(revoked.code, 0, revoked.stderr);
      await assert.rejects(c2.query('SELECT 1'), (e: Error & { code?: string }) => e.code === '42501');
      await c2.end();
    } finally {
      await gw.stop();
    }
  });

  it('a pending review and an active grant survive a gateway restart', async () => {
    const first = await startTestGateway(target);
    const agentToken = await first.token('agent-r', ['agents']);
    const oncallToken = await first.token('oncall-r', ['oncall']);
    const dba = await first.token('dba-r', ['dba']);
    const agent = await connect(first, agentToken);
    const id = await expectReview(agent, 'UPDATE customers SET notes = NULL');
    await agent.end();
    const req = await api<{ request: { id: string } }>(first, oncallToken, 'POST', '/api/v1/access-requests', {
      connection: 'shop',
      duration: '1h',
      reason: 'restart',
    });
    await api(first, dba, 'POST', `/api/v1/access-requests/${req.body.request.id}/approve`, {});
    await first.stop({ keepDir: true });

    const second = await startTestGateway(target, { restartOf: first });
    try {
      const pending = await api<{ review: { state: string } }>(second, dba, 'GET', `/api/v1/reviews/${id}`);
      assert.equal(pending.body.review.state, 'pending');
      await api(second, dba, 'POST', `/api/v1/reviews/${id}/approve`, {});
      const again = await connect(second, agentToken);
      const ran = await again.query('UPDATE customers SET notes = NULL');
      assert.equal(ran.rowCount, 50);
      await again.end();
      const oncall = await connect(second, oncallToken);
      const rows = await oncall.query('SELECT count(*)::int AS n FROM orders');
      assert.equal(rows.rows[0].n, 200);
      await oncall.end();
      const verify = await second.running.gateway.audit.verify();
      assert.equal(verify.ok, true);
    } finally {
      await second.stop();
    }
  });
});
