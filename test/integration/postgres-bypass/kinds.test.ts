// Finding 10: statements that lock, rewrite or side-step the data without being a "write" in the
// usual sense. Under the example policy (examples/warden.yaml) each must be refused by Warden
// (blocked or sent to review), not merely fail at the server, and nothing may change.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { runSql } from '../../helpers/postgres.js';
import { isWardenRefusal } from '../../helpers/wire-client.js';
import { examplePolicy } from './support.js';

type PgError = Error & { code?: string };

describe('bypass: statement kinds the example policy must refuse', async () => {
  const suite = shopGatewaySuite({ policy: await examplePolicy() });
  before(async () => {
    await runSql(
      suite.target.url,
      'CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id',
    );
  });

  const state = async () =>
    (
      await runSql(
        suite.target.url,
        'SELECT (SELECT last_value FROM orders_id_seq) AS seq, (SELECT count(*)::int FROM pg_largeobject_metadata) AS lobs, (SELECT count(*)::int FROM order_totals) AS totals, (SELECT count(*)::int FROM orders) AS orders',
      )
    )[0];

  const CASES: [string, string[]][] = [
    ['LOCK orders IN ACCESS EXCLUSIVE MODE', ['BEGIN', 'LOCK orders IN ACCESS EXCLUSIVE MODE']],
    ['LOCK TABLE customers (default mode)', ['BEGIN', 'LOCK TABLE customers']],
    ['REFRESH MATERIALIZED VIEW', ['REFRESH MATERIALIZED VIEW order_totals']],
    ['CHECKPOINT', ['CHECKPOINT']],
    ['SELECT lo_create(0)', ['SELECT lo_create(0)']],
    ["SELECT lo_from_bytea(0, 'x')", ["SELECT lo_from_bytea(0, 'x')"]],
    ["SELECT setval('orders_id_seq', 1)", ["SELECT setval('orders_id_seq', 1)"]],
    ["SELECT pg_logical_emit_message(true, 'x', 'y')", ["SELECT pg_logical_emit_message(true, 'x', 'y')"]],
  ];

  for (const [name, steps] of CASES) {
    it(`${name} is refused by Warden`, async () => {
      const before = await state();
      const c = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('kinds-agent', ['agents'])) });
      c.on('error', () => {});
      await c.connect();
      let err: PgError | undefined;
      try {
        for (const s of steps) {
          try {
            await c.query(s);
          } catch (e) {
            err = e as PgError;
            break;
          }
        }
        await c.query('ROLLBACK').catch(() => {});
      } finally {
        await c.end().catch(() => {});
      }
      assert.ok(
        err && isWardenRefusal(err),
        `expected a Warden refusal, got ${err ? `${err.code} ${err.message}` : 'success'}`,
      );
      assert.deepEqual(await state(), before, 'nothing changed');
    });
  }

  it('plain reads stay allowed under the same policy', async () => {
    const c = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('kinds-reader', ['agents'])) });
    await c.connect();
    try {
      assert.equal((await c.query('SELECT count(*)::int AS n FROM order_totals')).rows[0].n > 0, true);
      assert.equal((await c.query('SELECT last_value > 0 AS ok FROM orders_id_seq')).rows[0].ok, true);
    } finally {
      await c.end();
    }
  });
});
