// The shipped policies (examples/warden.yaml, src/demo/policy.yaml) against the real analysis:
// the bypasses of the review are refused, ordinary work is not.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { analyzePostgres, initAnalysis } from '../../../src/analysis/index.js';
import { loadConfigFile, parseConfig } from '../../../src/config/index.js';
import type { Identity, Operation } from '../../../src/core/types.js';
import { Policy } from '../../../src/policy/index.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/warden.yaml', import.meta.url));
const DEMO_POLICY = fileURLToPath(new URL('../../../src/demo/policy.yaml', import.meta.url));

const who = (sub: string, groups: string[]): Identity => ({
  sub,
  issuer: 'https://issuer.test',
  groups,
  claims: { sub },
  expiresAt: Date.UTC(2030, 0, 1),
});

function op(identity: Identity, text: string): Operation {
  const a = analyzePostgres(text);
  return {
    id: 'op_1',
    session: 's_1',
    connection: { name: 'shop', type: 'postgres' },
    identity,
    text,
    at: Date.UTC(2026, 0, 1, 12),
    kind: 'sql',
    sql: a.facts,
    normalized: a.normalized,
  };
}

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

async function policies(): Promise<[string, Policy][]> {
  const env = process.env.SHOP_DB_PASSWORD;
  process.env.SHOP_DB_PASSWORD = 'pw-for-tests';
  try {
    const example = new Policy((await loadConfigFile(EXAMPLE)).config);
    const demoYaml = `connections:\n  shop: { type: postgres, host: 127.0.0.1, port: 5432, database: shop, user: app, password: x }\n  billing: { type: http, url: 'http://127.0.0.1:1' }\n  web-1: { type: ssh, hostKey: 'SHA256:${'A'.repeat(43)}' }\n${await readFile(DEMO_POLICY, 'utf8')}`;
    const demo = new Policy(parseConfig(demoYaml, { baseDir: process.cwd() }).config);
    return [
      ['examples/warden.yaml', example],
      ['src/demo/policy.yaml', demo],
    ];
  } finally {
    if (env === undefined) delete process.env.SHOP_DB_PASSWORD;
    else process.env.SHOP_DB_PASSWORD = env;
  }
}

describe('shipped policies against the bypasses', () => {
  let all: [string, Policy][];
  const agent = who('agent-7', ['agents']);
  const dba = who('alice', ['dba']);
  before(async () => {
    await initAnalysis();
    all = await policies();
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
