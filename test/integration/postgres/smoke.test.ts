import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';

describe('postgres gateway smoke', () => {
  const suite = shopGatewaySuite();

  it('runs an allowed query with masking through node-postgres', async () => {
    const token = await suite.gw.token('agent-1', ['agents']);
    const client = new pg.Client({ connectionString: suite.gw.url(token) });
    await client.connect();
    try {
      const r = await client.query('SELECT id, name, email AS e FROM customers ORDER BY id LIMIT 2');
      assert.equal(r.rows.length, 2);
      assert.equal(r.rows[0].name, 'Ada Lovelace');
      assert.notEqual(r.rows[0].e, 'ada@example.com');
      const p = await client.query('SELECT email FROM customers WHERE id = $1', [1]);
      assert.notEqual(p.rows[0].email, 'ada@example.com');
      await assert.rejects(client.query('DROP TABLE orders'), (err: Error & { code?: string }) => {
        assert.equal(err.code, '42501');
        assert.match(err.message, /blocked by rule no-ddl/);
        return true;
      });
      const again = await client.query('SELECT count(*)::int AS n FROM orders');
      assert.equal(again.rows[0].n, 200);
    } finally {
      await client.end();
    }
  });
});
