// The four outcomes (block, review, mask, allow) through psql (simple protocol) and through the
// extended protocol (node-postgres, a raw pipelined batch, postgres.js), each refusal followed
// by a statement on the same session to show it is still usable.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import {
  BackendCode,
  writeBind,
  writeDescribe,
  writeExecute,
  writeParse,
  writeSync,
} from '../../../src/protocols/postgres/wire/index.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';
import { errorFields, psql, RawClient } from './support.js';

type PgError = Error & { code?: string };

describe('postgres front door: block / review / mask / allow', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let token: string;
  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target);
    token = await gw.token('agent-enforce', ['agents']);
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  async function pendingReview(id: string): Promise<void> {
    const review = await gw.running.gateway.store.getReview(id);
    assert.ok(review, `review ${id} is stored`);
    assert.equal(review.state, 'pending');
    assert.equal(review.requester.sub, 'agent-enforce');
  }

  it('psql: each outcome in one session, which keeps working after each refusal', async () => {
    const script = [
      'DROP TABLE orders;',
      "SELECT 'after-block';",
      'DELETE FROM orders;',
      "SELECT 'after-review';",
      'SELECT email FROM customers WHERE id = 1;',
      'SELECT name FROM customers WHERE id = 1;',
    ].join('\n');
    const r = await psql(gw, token, { input: script }, { extraArgs: ['-v', 'VERBOSITY=verbose'] });
    assert.equal(r.code, 0, r.stderr);
    // block: 42501 with the rule's name and message.
    assert.match(r.stderr, /ERROR: {2}42501: blocked by rule no-ddl: schema changes are not allowed through Warden/);
    // review: the message starts with "approval required" and names the stored review.
    const m = /ERROR: {2}42501: (approval required: review (\S+?))[\s;]/.exec(r.stderr);
    assert.ok(m, r.stderr);
    await pendingReview(m[2] as string);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines[0], 'after-block');
    assert.deepEqual(lines[1], 'after-review');
    // mask: the email column is redacted; allow: the name is clear.
    assert.notEqual(lines[2], 'ada@example.com');
    assert.match(lines[2] as string, /\*/);
    assert.equal(lines[3], 'Ada Lovelace');
    // Nothing reached the target.
    const n = await runSql(target.url, 'SELECT count(*)::int AS n FROM orders');
    assert.equal(n[0]?.n, 200);
  });

  it('extended protocol (node-postgres, parameterized): each outcome, session usable after refusals', async () => {
    const client = new pg.Client({ connectionString: gw.url(token) });
    await client.connect();
    try {
      await assert.rejects(
        client.query({ text: 'ALTER TABLE orders ADD COLUMN x int', queryMode: 'extended' } as pg.QueryConfig),
        (err: PgError) => {
          assert.equal(err.code, '42501');
          assert.match(err.message, /^blocked by rule no-ddl: /);
          return true;
        },
      );
      const a = await client.query('SELECT $1::int AS n', [1]);
      assert.equal(a.rows[0].n, 1);

      let reviewId = '';
      await assert.rejects(client.query('UPDATE orders SET status = $1', ['x']), (err: PgError) => {
        assert.equal(err.code, '42501');
        assert.match(err.message, /^approval required: review /);
        reviewId = /review (\S+?)[\s;]/.exec(err.message)?.[1] ?? '';
        return true;
      });
      await pendingReview(reviewId);
      const b = await client.query('SELECT $1::text AS s', ['still-here']);
      assert.equal(b.rows[0].s, 'still-here');

      const masked = await client.query('SELECT email, phone FROM customers WHERE id = $1', [1]);
      assert.notEqual(masked.rows[0].email, 'ada@example.com');
      assert.notEqual(masked.rows[0].phone, '+1 415 555 0132');

      const allowed = await client.query('SELECT name FROM customers WHERE id = $1', [2]);
      assert.equal(allowed.rows[0].name, 'Alan Turing');
    } finally {
      await client.end();
    }
  });

  it('a refusal inside a pipelined batch gives exactly one error and the client recovers at Sync', async () => {
    const c = await RawClient.session(gw.pgPort, token);
    try {
      const w = c.w;
      writeParse(w, '', 'SELECT 1 AS a');
      writeBind(w, {});
      writeExecute(w);
      writeParse(w, '', 'DROP TABLE customers');
      writeBind(w, {});
      writeDescribe(w, 'P');
      writeExecute(w);
      writeParse(w, '', 'SELECT 2 AS b');
      writeBind(w, {});
      writeExecute(w);
      writeSync(w);
      // A second batch, sent before the first is answered.
      writeParse(w, 's3', 'SELECT 3 AS c');
      writeBind(w, { statement: 's3' });
      writeExecute(w);
      writeSync(w);
      c.write(w.flush());
      await c.waitFor(
        (m) =>
          m.code === BackendCode.ReadyForQuery &&
          c.messages.filter((x) => x.code === BackendCode.ReadyForQuery).length === 2,
      );
      const msgs = c.take();
      const codes = msgs.map((m) => String.fromCharCode(m.code)).join('');
      // 1: ParseComplete, 2: BindComplete, D: DataRow, C: CommandComplete, E: the refusal, Z.
      assert.equal(codes, '12DCEZ12DCZ');
      const errors = msgs.filter((m) => m.code === BackendCode.ErrorResponse);
      assert.equal(errors.length, 1);
      const e = errorFields(errors[0]!);
      assert.equal(e.code, '42501');
      assert.match(e.message ?? '', /^blocked by rule no-ddl/);
      const rows = msgs.filter((m) => m.code === BackendCode.DataRow).map((m) => m.payload.toString('utf8', 6));
      assert.deepEqual(rows, ['1', '3']);
    } finally {
      c.destroy();
    }
    const exists = await runSql(target.url, "SELECT to_regclass('customers') IS NOT NULL AS ok");
    assert.equal(exists[0]?.ok, true);
  });

  it('postgres.js: a refused query among pipelined ones fails alone', async () => {
    const sql = postgres({
      host: '127.0.0.1',
      port: gw.pgPort,
      database: 'shop',
      username: 'agent',
      password: token,
      ssl: false,
      max: 1,
      onnotice: () => {},
    });
    try {
      const results = await Promise.allSettled([
        sql`SELECT ${1}::int AS n`,
        sql`TRUNCATE orders`,
        sql`SELECT name FROM customers WHERE id = ${3}`,
        sql`SELECT email FROM customers WHERE id = ${3}`,
      ]);
      assert.equal(results[0].status, 'fulfilled');
      assert.equal(results[1].status, 'rejected');
      const err = (results[1] as PromiseRejectedResult).reason as PgError;
      assert.equal(err.code, '42501');
      assert.match(err.message, /blocked by rule no-ddl/);
      assert.equal(results[2].status, 'fulfilled');
      assert.equal(
        (results[2] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value[0]?.name,
        'Grace Hopper',
      );
      assert.equal(results[3].status, 'fulfilled');
      assert.notEqual(
        (results[3] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value[0]?.email,
        'grace@example.net',
      );
      const [after] = await sql`SELECT count(*)::int AS n FROM orders`;
      assert.equal(after?.n, 200);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
