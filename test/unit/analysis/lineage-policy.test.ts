// The shipped policies (examples/warden.yaml, src/demo/policy.yaml) with column lineage: filter
// oracles on masked columns are reviewed for agents, lookups and joins by unmasked keys are not;
// op.sql.maskedOutputs is filled for the identity's masking; planner statistics are blocked
// under masking.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzePostgres, initAnalysis } from '../../../src/analysis/index.js';
import type { Policy } from '../../../src/policy/index.js';
import { op, shippedPolicies, who } from './shipped-policies.js';

const ORACLES = [
  "SELECT id FROM customers WHERE ssn LIKE '5%'",
  "SELECT id FROM customers WHERE email = 'ada@example.com'",
  'SELECT id FROM customers ORDER BY card_number LIMIT 1',
  "SELECT ssn > '5' FROM customers",
  "SELECT count(*) FROM customers GROUP BY 1 HAVING max(phone) LIKE '+1%'",
  'SELECT o.id FROM orders o JOIN customers c ON c.ssn = o.status',
  "SELECT count(*) FILTER (WHERE card_number LIKE '4%') FROM customers",
  'SELECT row_number() OVER (ORDER BY ssn), id FROM customers',
  "DELETE FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE ssn LIKE '1%')",
];

const PLAIN = [
  'SELECT id FROM customers WHERE id = 7',
  'SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id',
  'SELECT count(email) FROM customers',
  'SELECT count(*) FROM customers WHERE phone IS NULL',
  'SELECT email, ssn FROM customers ORDER BY id',
  "SELECT reverse(email) FROM customers WHERE name = 'Ada Lovelace'",
];

describe('shipped policies with column lineage', () => {
  let all: [string, Policy][];
  const agent = who('agent-7', ['agents']);
  const dba = who('alice', ['dba']);
  before(async () => {
    await initAnalysis();
    all = await shippedPolicies();
  });

  it("an agent's filter on a masked column is reviewed; a dba's is not", () => {
    for (const [file, policy] of all) {
      for (const sql of ORACLES) {
        const d = policy.decide(op(agent, sql));
        assert.equal(d.effect, 'review', `${file}: ${sql} → ${d.effect} (${d.rules})`);
        assert.ok(d.rules.includes('masked-filter-needs-review'), `${file}: ${sql} matched ${d.rules}`);
        assert.notEqual(policy.decide(op(dba, sql)).effect, 'review', `${file} (dba): ${sql}`);
      }
    }
  });

  it('lookups and joins by unmasked keys, counts and null tests are not refused', () => {
    for (const [file, policy] of all) {
      for (const sql of PLAIN) {
        const d = policy.decide(op(agent, sql));
        assert.ok(d.effect === 'mask' || d.effect === 'allow', `${file}: ${sql} → ${d.effect} (${d.rules})`);
      }
    }
  });

  it('op.sql.maskedOutputs is filled for the identity the masking applies to', () => {
    for (const [file, policy] of all) {
      const agentOp = op(agent, 'SELECT id, reverse(email) AS r, count(ssn), upper(name) FROM customers');
      policy.decide(agentOp);
      assert.deepEqual(agentOp.sql.maskedOutputs, ['r'], file);
      const dbaOp = op(dba, 'SELECT id, reverse(email) AS r FROM customers');
      policy.decide(dbaOp);
      assert.deepEqual(dbaOp.sql.maskedOutputs, [], `${file} (dba, unmaskedFor)`);
      // The shared analysis is not changed by one identity's decision.
      assert.deepEqual(
        analyzePostgres('SELECT id, reverse(email) AS r, count(ssn), upper(name) FROM customers').facts.maskedOutputs,
        [],
      );
    }
  });

  it('planner statistics are blocked under masking, readable for a dba', () => {
    for (const [file, policy] of all) {
      for (const sql of [
        "SELECT most_common_vals, histogram_bounds FROM pg_stats WHERE tablename = 'customers'",
        'SELECT * FROM pg_catalog.pg_statistic',
        'SELECT * FROM pg_stats_ext',
        'SELECT * FROM pg_stats_ext_exprs',
        'SELECT * FROM pg_statistic_ext_data',
        'SELECT pg_mcv_list_items(stxdmcv) FROM pg_statistic_ext_data',
        "SELECT * FROM query_to_xml('select * from pg_stats', true, true, '')",
      ]) {
        const d = policy.decide(op(agent, sql));
        assert.equal(d.effect, 'block', `${file}: ${sql} → ${d.effect}`);
        assert.ok(
          d.reasons.some((r) => /sample values/.test(r.message)),
          `${file}: ${sql}`,
        );
        assert.notEqual(policy.decide(op(dba, sql)).effect, 'block', `${file} (dba): ${sql}`);
      }
    }
  });

  it('copying a masked column into an unmasked one is blocked under masking', () => {
    for (const [file, policy] of all) {
      for (const sql of [
        'UPDATE customers SET notes = ssn WHERE id = 1',
        "UPDATE customers SET notes = reverse(email) || '' WHERE id = 1",
        'INSERT INTO orders (customer_id, amount, status) SELECT id, 1, card_number FROM customers WHERE id = 1',
        'INSERT INTO orders SELECT * FROM customers LIMIT 1',
        'WITH c AS (UPDATE customers SET notes = phone WHERE id = 2 RETURNING id) SELECT 1',
        'INSERT INTO orders (customer_id, amount, status) VALUES (1, 1, (SELECT max(ssn) FROM customers))',
      ]) {
        const d = policy.decide(op(agent, sql));
        assert.equal(d.effect, 'block', `${file}: ${sql} → ${d.effect} (${d.rules})`);
        assert.ok(
          d.reasons.some((r) => /would unmask it/.test(r.message)),
          `${file}: ${sql}`,
        );
        assert.notEqual(policy.decide(op(dba, sql)).effect, 'block', `${file} (dba): ${sql}`);
      }
      for (const sql of [
        'UPDATE customers SET email = lower(email) WHERE id = 1',
        "UPDATE customers SET notes = 'called' WHERE id = 1",
        'INSERT INTO orders (customer_id, amount) SELECT id, 10 FROM customers WHERE id = 3',
      ]) {
        const d = policy.decide(op(agent, sql));
        assert.ok(d.effect === 'mask' || d.effect === 'allow', `${file}: ${sql} → ${d.effect} (${d.rules})`);
      }
    }
  });
});
