// What `warden exec --json` and MCP `query` report is the Verdict the session enforced, the
// same one its audit entry holds (operation id, effect, rules, review id): no parsing of error
// text, no second policy evaluation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRecord } from '../../../src/audit/index.js';
import { runWarden } from '../../helpers/cli.js';
import { shopGatewaySuite, TEST_POLICY } from '../../helpers/gateway.js';
import { mcpClient } from '../mcp/support.js';

// An extra rule that also matches DROP, so "all matched rules" is visible (not only the winner).
const POLICY = TEST_POLICY.replace(
  'rules:\n',
  `rules:
  - name: note-drops
    when: op.kind == 'sql' && op.sql.kinds.exists(k, k == 'drop')
    action: allow
`,
);

interface Reported {
  outcome: string;
  effect: string;
  rules: string[];
  operation?: string;
  reviewId?: string;
}

describe('reported outcome = enforced verdict = audit entry', () => {
  const suite = shopGatewaySuite({ policy: POLICY });

  async function auditOf(op: string | undefined): Promise<AuditRecord> {
    assert.ok(op, 'the outcome names its operation');
    const gateway = suite.gw.running.gateway;
    await gateway.audit.flush();
    const entries = await gateway.audit.list({ type: 'operation', limit: 10_000 });
    const entry = entries.find((e) => e.data.op === op);
    assert.ok(entry, `an audit entry for ${op}`);
    return entry;
  }

  async function assertMatchesAudit(r: Reported, expected: { effect: string; rules: string[] }): Promise<void> {
    assert.equal(r.effect, expected.effect);
    assert.deepEqual([...r.rules].sort(), [...expected.rules].sort());
    const entry = await auditOf(r.operation);
    assert.equal(entry.data.effect, r.effect);
    assert.deepEqual(entry.data.rules, r.rules);
    assert.equal(entry.data.review, r.reviewId);
  }

  async function cliExec(token: string, sql: string): Promise<Reported> {
    const res = await runWarden(['exec', '--json', '--gateway', suite.gw.apiUrl, 'shop', sql], {
      env: { WARDEN_TOKEN: token },
    });
    assert.ok(res.stdout.trim().startsWith('{'), `JSON on stdout (stderr: ${res.stderr})`);
    return JSON.parse(res.stdout) as Reported;
  }

  it('warden exec --json: mask, block (every matched rule), review, then the approved run', async () => {
    const agent = await suite.gw.token('verdict-cli', ['agents']);
    const masked = await cliExec(agent, 'SELECT email FROM customers ORDER BY id LIMIT 1');
    assert.equal(masked.outcome, 'ok');
    await assertMatchesAudit(masked, { effect: 'mask', rules: [] });

    const blocked = await cliExec(agent, 'DROP TABLE customers');
    assert.equal(blocked.outcome, 'blocked');
    await assertMatchesAudit(blocked, { effect: 'block', rules: ['no-ddl', 'note-drops'] });

    const review = await cliExec(agent, 'DELETE FROM orders');
    assert.equal(review.outcome, 'review');
    assert.match(review.reviewId ?? '', /\S/);
    await assertMatchesAudit(review, { effect: 'review', rules: ['unbounded-writes-need-review'] });

    const dba = await suite.gw.token('verdict-dba', ['dba']);
    const ok = await fetch(`${suite.gw.apiUrl}/api/v1/reviews/${review.reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dba}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(ok.status, 200);
    const ran = await cliExec(agent, 'DELETE FROM orders');
    assert.equal(ran.outcome, 'ok');
    assert.equal(ran.reviewId, review.reviewId, 'the run names the review it ran under');
    // Approved: what remains is the agent's masking.
    await assertMatchesAudit(ran, { effect: 'mask', rules: ['unbounded-writes-need-review'] });
  });

  it('MCP query: mask, block and review reported as enforced', async () => {
    const token = await suite.gw.token('verdict-mcp', ['agents']);
    const mcp = await mcpClient(suite.gw.apiUrl, token);
    try {
      const masked = await mcp.call('query', { connection: 'shop', sql: 'SELECT email FROM customers LIMIT 1' });
      assert.equal(masked.isError, undefined);
      await assertMatchesAudit(masked.structuredContent as Reported, { effect: 'mask', rules: [] });

      const blocked = await mcp.call('query', { connection: 'shop', sql: 'DROP TABLE orders' });
      assert.equal(blocked.isError, true);
      await assertMatchesAudit(blocked.structuredContent as Reported, {
        effect: 'block',
        rules: ['no-ddl', 'note-drops'],
      });

      const review = await mcp.call('query', { connection: 'shop', sql: 'UPDATE customers SET name = name' });
      const reported = review.structuredContent as Reported;
      assert.equal(reported.outcome, 'review');
      await assertMatchesAudit(reported, { effect: 'review', rules: ['unbounded-writes-need-review'] });
    } finally {
      await mcp.close();
    }
  });
});
