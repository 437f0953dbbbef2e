// allWritesFiltered as DESIGN.md §1 defines it: a WHERE that means something, bounded MERGE and
// INSERT … SELECT sources, LIMIT no larger than limits.boundedWriteRows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  analyzePostgres,
  clearSqlAnalysisCache,
  initAnalysis,
  setBoundedWriteRows,
} from '../../../src/analysis/index.js';

const filtered = (sql: string) => analyzePostgres(sql).facts.allWritesFiltered;

function check(cases: [string, boolean][]): void {
  for (const [sql, expected] of cases) assert.equal(filtered(sql), expected, sql);
}

describe('write filters', () => {
  before(() => initAnalysis());
  after(() => setBoundedWriteRows(1000));

  it('UPDATE / DELETE: terms that do not filter', () => {
    check([
      ['DELETE FROM orders WHERE id = id', false],
      ['DELETE FROM orders WHERE orders.id = id', false],
      ['DELETE FROM orders o WHERE o.id = o.id', false],
      ['DELETE FROM orders WHERE id IS NOT NULL', false],
      ['DELETE FROM orders WHERE id IS NULL OR id IS NOT NULL', false],
      ['DELETE FROM orders WHERE EXISTS (SELECT 1)', false],
      ['DELETE FROM orders WHERE EXISTS (SELECT 1 FROM customers WHERE id = 3)', false],
      ['DELETE FROM orders WHERE true', false],
      ['DELETE FROM orders WHERE 1 = 1', false],
      ['DELETE FROM orders WHERE (id = id) = true', false],
      ['DELETE FROM orders WHERE coalesce(id = id, true)', false],
      ['DELETE FROM orders WHERE (id IS NOT NULL) IS TRUE', false],
      ['DELETE FROM orders WHERE some_check(id)', false],
      ['DELETE FROM orders WHERE id IN (SELECT id FROM orders)', false],
      ['DELETE FROM orders WHERE id IN (SELECT id)', false],
      ['DELETE FROM orders o WHERE id = (SELECT o.id FROM refunds r WHERE r.day = current_date)', false],
      ['DELETE FROM orders WHERE id = 3 OR id = id', false],
      ['DELETE FROM orders WHERE NOT (id IS NULL)', false],
      // a filter on a joined table that is not joined to the written one: every row goes
      ["DELETE FROM orders USING customers c WHERE c.name = 'x'", false],
      ["DELETE FROM orders USING customers c WHERE name = 'x'", false],
      ["UPDATE orders SET status = 'x' FROM customers c WHERE c.id = c.id AND c.name = 'x'", false],
    ]);
  });

  it('UPDATE / DELETE: filters that count', () => {
    check([
      ['DELETE FROM orders WHERE id = 3', true],
      ['DELETE FROM orders WHERE 3 = id', true],
      ['DELETE FROM orders WHERE id IN (1, 2)', true],
      ['DELETE FROM orders WHERE id = ANY($1)', true],
      ['DELETE FROM orders WHERE id = $1', true],
      ["DELETE FROM orders WHERE status LIKE 'a%'", true],
      ["DELETE FROM orders WHERE lower(status) = 'x'", true],
      ["DELETE FROM orders WHERE created_at < now() - interval '7 days'", true],
      ['DELETE FROM orders WHERE id BETWEEN 1 AND 10', true],
      ["DELETE FROM orders WHERE data->>'k' = 'v'", true],
      ['DELETE FROM orders WHERE id = 3 OR id = 4', true],
      ['DELETE FROM orders WHERE id IS NOT NULL AND id = 3', true],
      ['DELETE FROM orders WHERE archived', true],
      ['UPDATE orders SET paid = true WHERE CURRENT OF c', true],
      ["DELETE FROM orders USING customers c WHERE orders.customer_id = c.id AND c.name = 'x'", true],
      ["DELETE FROM orders o USING customers c WHERE o.customer_id = c.id AND c.name = 'x'", true],
      ["DELETE FROM orders USING customers c WHERE customer_id = c.id AND c.name = 'x'", true],
      [
        "DELETE FROM orders o USING customers c JOIN regions r ON r.id = c.region_id WHERE o.customer_id = c.id AND r.name = 'eu'",
        true,
      ],
      ["UPDATE orders SET status = 'x' FROM customers c WHERE orders.customer_id = c.id AND c.name = 'x'", true],
      ['UPDATE orders SET paid = true FROM (VALUES (1), (2)) v(id) WHERE orders.id = v.id', true],
      ["UPDATE orders SET paid = true WHERE id IN (SELECT order_id FROM refunds WHERE day = '2024-01-01')", true],
      ['UPDATE orders SET paid = true WHERE id IN (SELECT order_id FROM refunds LIMIT 10)', true],
      ['UPDATE orders SET total = (SELECT max(total) FROM orders) WHERE id = 1', true],
    ]);
  });

  it('MERGE: a VALUES list or bounded query, joined on a real condition', () => {
    check([
      [
        'MERGE INTO orders t USING (VALUES (1, 2)) s(id, v) ON t.id = s.id WHEN MATCHED THEN UPDATE SET total = s.v',
        true,
      ],
      [
        "MERGE INTO orders t USING (SELECT id FROM incoming WHERE day = '2024-01-01') s ON t.id = s.id WHEN MATCHED THEN DELETE",
        true,
      ],
      ['MERGE INTO orders t USING (VALUES (1)) s(id) ON true WHEN MATCHED THEN DELETE', false],
      ['MERGE INTO orders t USING (VALUES (1)) s(id) ON t.id = t.id WHEN MATCHED THEN DELETE', false],
      ['MERGE INTO orders t USING (VALUES (1)) s(id) ON 1 = 1 WHEN MATCHED THEN DELETE', false],
      ['MERGE INTO orders t USING incoming s ON t.id = s.id WHEN MATCHED THEN DELETE', false],
      ['MERGE INTO orders t USING (SELECT * FROM incoming) s ON t.id = s.id WHEN MATCHED THEN DELETE', false],
    ]);
  });

  it('INSERT … SELECT: a WHERE filter or a LIMIT no larger than boundedWriteRows', () => {
    check([
      ['INSERT INTO archive SELECT * FROM orders LIMIT 1000', true],
      ['INSERT INTO archive SELECT * FROM orders LIMIT 1001', false],
      ['INSERT INTO archive SELECT * FROM orders LIMIT 1000000', false],
      ['INSERT INTO archive SELECT * FROM orders LIMIT $1', false],
      ['INSERT INTO archive SELECT * FROM orders LIMIT ALL', false],
      ["INSERT INTO archive SELECT * FROM orders LIMIT '10'", false],
      ['INSERT INTO archive SELECT * FROM orders FETCH FIRST 5 ROWS ONLY', true],
      ['INSERT INTO archive SELECT * FROM orders WHERE id = id', false],
      ['INSERT INTO archive SELECT * FROM orders WHERE id = 5', true],
      ["INSERT INTO archive SELECT o.* FROM orders o, customers c WHERE c.name = 'x'", false],
      [
        "INSERT INTO archive SELECT o.* FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.name = 'x'",
        true,
      ],
      ["INSERT INTO archive SELECT 1, 'x'", true],
      ['INSERT INTO archive SELECT generate_series(1, 100000000)', false],
      ['INSERT INTO archive VALUES (1), (2)', true],
    ]);
  });

  it('ON CONFLICT DO UPDATE is an update too, and must be bounded the same way', () => {
    const attack = analyzePostgres(
      "INSERT INTO orders SELECT * FROM orders LIMIT 1000000 ON CONFLICT (id) DO UPDATE SET status = 'hijacked'",
    ).facts;
    assert.deepEqual(attack.kinds, ['insert', 'update']);
    assert.equal(attack.writes, true);
    assert.equal(attack.allWritesFiltered, false);
    const bounded = analyzePostgres(
      "INSERT INTO orders VALUES (1, 2, 'new', 3) ON CONFLICT (id) DO UPDATE SET status = 'x'",
    ).facts;
    assert.deepEqual(bounded.kinds, ['insert', 'update']);
    assert.equal(bounded.allWritesFiltered, true);
    assert.deepEqual(analyzePostgres('INSERT INTO orders VALUES (1) ON CONFLICT DO NOTHING').facts.kinds, ['insert']);
  });

  it('the LIMIT value is literal-sensitive in the cache, and setBoundedWriteRows takes effect', () => {
    clearSqlAnalysisCache();
    assert.equal(filtered('INSERT INTO archive SELECT * FROM orders LIMIT 10'), true);
    assert.equal(filtered('INSERT INTO archive SELECT * FROM orders LIMIT 10000000'), false);
    assert.equal(filtered('INSERT INTO archive SELECT * FROM orders LIMIT 10'), true);
    setBoundedWriteRows(5);
    assert.equal(filtered('INSERT INTO archive SELECT * FROM orders LIMIT 10'), false);
    assert.equal(filtered('INSERT INTO archive SELECT * FROM orders LIMIT 5'), true);
    setBoundedWriteRows(1000);
    assert.equal(filtered('INSERT INTO archive SELECT * FROM orders LIMIT 10'), true);
    assert.throws(() => setBoundedWriteRows(-1), TypeError);
  });
});
