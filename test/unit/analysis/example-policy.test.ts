// The shipped policies (examples/warden.yaml, src/demo/policy.yaml) against the real analysis:
// the bypasses of the review are refused, ordinary work is not.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initAnalysis } from '../../../src/analysis/index.js';
import type { Policy } from '../../../src/policy/index.js';
import { op, shippedPolicies, who } from './shipped-policies.js';

const KILL = 'select to_tsvector(pg_terminate_backend(pid)::text) from pg_stat_activity';

/** [sql, effect for an agent, a rule that must be among the matches] */
const CASES: [string, 'block' | 'review', string][] = [
  [`select * from ts_stat($$${KILL}$$)`, 'block', 'no-dangerous-functions'],
  [`select * from ts_stat('${KILL}')`, 'block', 'no-dangerous-functions'],
  ["select * from ts_stat('select to_tsvector(x) from t' || '')", 'block', 'no-dynamic-sql'],
  ["select query_to_xml(chr(115) || 'elect 1', true, true, '')", 'block', 'no-dynamic-sql'],
  ["select database_to_xml(true, true, '')", 'block', 'no-dynamic-sql'],
  ['DO $$ BEGIN PERFORM pg_reload_conf(); END $$', 'block', 'no-dynamic-sql'],
  ["select * from dblink('dbname=shop', 'select 1') as t(x int)", 'block', 'no-dangerous-functions'],
  ['select pg_cancel_backend(1)', 'block', 'no-dangerous-functions'],
  ['select pg_reload_conf()', 'block', 'no-dangerous-functions'],
  ['select pg_rotate_logfile()', 'block', 'no-dangerous-functions'],
  ['select lo_create(0)', 'block', 'no-dangerous-functions'],
  ["select lo_from_bytea(0, 'x')", 'block', 'no-dangerous-functions'],
  ['select loread(lo_open(1, 262144), 100)', 'block', 'no-dangerous-functions'],
  ["select lowrite(0, 'x')", 'block', 'no-dangerous-functions'],
  ["select pg_logical_emit_message(true, 'x', 'y')", 'block', 'no-dangerous-functions'],
  ['CHECKPOINT', 'block', 'no-server-control'],
  ["LOAD 'auto_explain'", 'block', 'no-server-control'],
  ["SECURITY LABEL ON TABLE orders IS 'x'", 'block', 'no-ddl'],
  ["UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'", 'block', 'no-settings-writes'],
  [
    "WITH s AS (UPDATE pg_catalog.pg_settings SET setting = 'x' WHERE name = 'work_mem' RETURNING 1) SELECT 1",
    'block',
    'no-settings-writes',
  ],
  ['LOCK orders IN ACCESS EXCLUSIVE MODE', 'review', 'disruptive-statements-need-review'],
  ['REFRESH MATERIALIZED VIEW order_totals', 'review', 'disruptive-statements-need-review'],
  ["select setval('orders_id_seq', 1)", 'review', 'disruptive-statements-need-review'],
  [
    "INSERT INTO orders SELECT * FROM orders LIMIT 1000000 ON CONFLICT (id) DO UPDATE SET status = 'hijacked'",
    'review',
    'unbounded-writes-need-review',
  ],
  ['DELETE FROM orders WHERE id = id', 'review', 'unbounded-writes-need-review'],
  ['DELETE FROM orders WHERE id IS NOT NULL', 'review', 'unbounded-writes-need-review'],
  ['DELETE FROM orders WHERE EXISTS (select 1)', 'review', 'unbounded-writes-need-review'],
  [`SELECT ${Array(10_000).fill('1').join('+')}`, 'block', 'block-unparsed-sql'],
];

const ALLOWED = [
  'select * from orders where id = 3',
  'DELETE FROM orders WHERE id = 3',
  "DELETE FROM orders WHERE created_at < now() - interval '7 days'",
  "DELETE FROM orders USING customers c WHERE orders.customer_id = c.id AND c.name = 'x'",
  'MERGE INTO orders t USING (VALUES (1, 2)) s(id, v) ON t.id = s.id WHEN MATCHED THEN UPDATE SET total = s.v',
  "select nextval('orders_id_seq')",
  "select * from ts_stat('select to_tsvector(name) from customers')",
];

describe('shipped policies against the bypasses', () => {
  let all: [string, Policy][];
  const agent = who('agent-7', ['agents']);
  const dba = who('alice', ['dba']);
  before(async () => {
    await initAnalysis();
    all = await shippedPolicies();
  });

  it('refuses every bypass for an agent, with the expected rule', () => {
    for (const [file, policy] of all) {
      for (const [sql, effect, rule] of CASES) {
        const d = policy.decide(op(agent, sql));
        assert.equal(d.effect, effect, `${file}: ${sql.slice(0, 80)} → ${d.effect} (${d.rules})`);
        assert.ok(d.rules.includes(rule), `${file}: ${sql.slice(0, 80)} matched ${d.rules}, expected ${rule}`);
      }
    }
  });

  it('blocks the dangerous ones for a dba too; reviews are for agents only', () => {
    for (const [file, policy] of all) {
      for (const [sql, effect] of CASES) {
        const d = policy.decide(op(dba, sql));
        assert.equal(d.effect, effect === 'block' ? 'block' : 'allow', `${file} (dba): ${sql.slice(0, 80)}`);
      }
    }
  });

  it('ordinary statements are not refused', () => {
    for (const [file, policy] of all) {
      for (const sql of ALLOWED) {
        const d = policy.decide(op(agent, sql));
        assert.ok(d.effect === 'mask' || d.effect === 'allow', `${file}: ${sql} → ${d.effect} (${d.rules})`);
      }
    }
  });
});
