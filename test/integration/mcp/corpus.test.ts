// The same decision whichever door: a corpus of statements runs through node-postgres directly
// against the PostgreSQL front door and through MCP `query`, as the same identity. Each run is
// compared by outcome, by the audited decision (effect and rules) and, when rows come back, by
// the rows themselves (masked the same way).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { type McpTestClient, mcpClient } from './support.js';

type Outcome = 'ok' | 'blocked' | 'review' | 'error';

const CORPUS: { sql: string; expect: Outcome; effect: string }[] = [
  { sql: 'SELECT id, name FROM customers ORDER BY id LIMIT 3', expect: 'ok', effect: 'mask' },
  { sql: 'SELECT name, email, phone FROM customers ORDER BY id LIMIT 3', expect: 'ok', effect: 'mask' },
  { sql: 'SELECT e FROM (SELECT email AS e, id FROM customers) s ORDER BY id LIMIT 2', expect: 'ok', effect: 'mask' },
  { sql: 'SELECT lower(email) AS l FROM customers ORDER BY id LIMIT 2', expect: 'ok', effect: 'mask' },
  { sql: 'SELECT row_to_json(c)::text AS j FROM customers c ORDER BY id LIMIT 1', expect: 'ok', effect: 'mask' },
  { sql: 'SELECT 1 AS a; SELECT 2 AS b', expect: 'ok', effect: 'mask' },
  { sql: 'DELETE FROM orders WHERE id = -1', expect: 'ok', effect: 'mask' },
  { sql: 'DROP TABLE orders', expect: 'blocked', effect: 'block' },
  { sql: 'TRUNCATE orders', expect: 'blocked', effect: 'block' },
  { sql: 'ALTER TABLE customers ADD COLUMN x integer', expect: 'blocked', effect: 'block' },
  { sql: 'SELEC * FRM customers', expect: 'blocked', effect: 'block' },
  { sql: "SELECT pg_read_file('/etc/passwd')", expect: 'blocked', effect: 'block' },
  { sql: "COPY orders TO PROGRAM 'cat > /tmp/x'", expect: 'blocked', effect: 'block' },
  { sql: 'SELECT 1; DROP TABLE customers', expect: 'blocked', effect: 'block' },
  { sql: 'DELETE FROM orders', expect: 'review', effect: 'review' },
  { sql: "UPDATE customers SET notes = 'x' WHERE 1 = 1", expect: 'review', effect: 'review' },
  {
    sql: 'INSERT INTO orders (customer_id, amount, status) SELECT customer_id, amount, status FROM orders',
    expect: 'review',
    effect: 'review',
  },
  { sql: 'SELECT * FROM no_such_table', expect: 'error', effect: 'mask' },
];

interface Run {
  outcome: Outcome;
  rows?: unknown[][][];
  message?: string;
}

async function direct(client: pg.Client, sql: string): Promise<Run> {
  try {
    const r = (await client.query({ text: sql, rowMode: 'array' })) as unknown as
      | pg.QueryResult<unknown[]>
      | pg.QueryResult<unknown[]>[];
    const list = Array.isArray(r) ? r : [r];
    return { outcome: 'ok', rows: list.filter((x) => x.fields.length > 0).map((x) => x.rows) };
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === '42501' && e.message.startsWith('approval required'))
      return { outcome: 'review', message: e.message };
    if (e.code === '42501' && e.message.startsWith('blocked')) return { outcome: 'blocked', message: e.message };
    return { outcome: 'error', message: e.message };
  }
}

async function viaMcp(c: McpTestClient, sql: string): Promise<Run> {
  const r = await c.call('query', { connection: 'shop', sql });
  const s = r.structuredContent ?? {};
  return {
    outcome: s.outcome,
    ...(s.results
      ? { rows: s.results.filter((x: { columns?: string[] }) => x.columns).map((x: { rows: unknown[][] }) => x.rows) }
      : {}),
    ...(s.message ? { message: s.message } : {}),
  };
}

describe('same decision through psql-style clients and MCP', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let pgClient: pg.Client;
  let mcp: McpTestClient;

  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target);
    const token = await gw.token('corpus-agent', ['agents']);
    pgClient = new pg.Client({ connectionString: gw.url(token) });
    await pgClient.connect();
    mcp = await mcpClient(gw.apiUrl, token);
  });
  after(async () => {
    await mcp?.close().catch(() => {});
    await pgClient?.end().catch(() => {});
    await gw?.stop();
    await target?.stop();
  });

  it(`decides all ${CORPUS.length} statements the same way`, async () => {
    const audit = gw.running.gateway.audit;
    const lastOp = async (afterSeq: number) => {
      const ops = (await audit.list({ type: 'operation', afterSeq })).filter((e) => e.actor === 'corpus-agent');
      assert.equal(ops.length, 1, 'exactly one audited operation per run');
      return ops[0]!;
    };
    for (const { sql, expect, effect } of CORPUS) {
      const seq0 = (await audit.list({ afterSeq: 0, limit: 100_000 })).at(-1)?.seq ?? 0;
      const d = await direct(pgClient, sql);
      const dOp = await lastOp(seq0);
      const m = await viaMcp(mcp, sql);
      const mOp = await lastOp(dOp.seq);

      assert.equal(d.outcome, expect, `direct: ${sql} (${d.message ?? ''})`);
      assert.equal(m.outcome, d.outcome, `mcp vs direct: ${sql}`);
      assert.equal(dOp.data.effect, effect, `audited effect: ${sql}`);
      assert.equal(mOp.data.effect, dOp.data.effect, `audited effect, mcp vs direct: ${sql}`);
      assert.deepEqual(mOp.data.rules, dOp.data.rules, `rules: ${sql}`);
      assert.equal(mOp.connection, 'shop');
      if (d.outcome === 'blocked') assert.equal(m.message, d.message, `refusal message: ${sql}`);
      if (d.outcome === 'ok') assert.deepEqual(m.rows, d.rows, `rows: ${sql}`);
    }
  });

  it('masked rows are equal and masked on both paths', async () => {
    const sql = 'SELECT email, card_number, ssn FROM customers ORDER BY id LIMIT 4';
    const d = await direct(pgClient, sql);
    const m = await viaMcp(mcp, sql);
    assert.deepEqual(m.rows, d.rows);
    const flat = JSON.stringify(d.rows);
    assert.doesNotMatch(flat, /ada@example\.com/);
    assert.ok((d.rows?.[0]?.length ?? 0) === 4);
  });
});
