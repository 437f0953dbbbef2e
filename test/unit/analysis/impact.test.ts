import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { impactProbes, planRows } from '../../../src/analysis/impact.js';
import { analyzePostgres, initAnalysis } from '../../../src/analysis/index.js';

before(() => initAnalysis());

const probes = (sql: string) => {
  const p = impactProbes(sql);
  assert.ok(p.ok, `expected probes for ${sql}: ${p.ok ? '' : p.reason}`);
  return p.probes;
};
const oneLine = (s: string | undefined) => s?.replace(/\s+/g, ' ');

describe('impactProbes', () => {
  it('DELETE: EXPLAIN of the write, count(*) with the same condition', () => {
    const p = probes("DELETE FROM orders WHERE status = 'stale'");
    assert.equal(p.verb, 'delete');
    assert.equal(p.table, 'orders');
    assert.equal(oneLine(p.explain), "EXPLAIN (FORMAT JSON) DELETE FROM orders WHERE status = 'stale'");
    assert.equal(oneLine(p.count), "SELECT count(*) FROM orders WHERE status = 'stale'");
  });

  it('UPDATE keeps alias, ONLY, schema and a complex condition; RETURNING and SET are not in the count', () => {
    const p = probes(
      "UPDATE ONLY shop.orders AS o SET status = 'x', total = total * 2 WHERE (o.total > 10 OR o.note ILIKE '%a''b%') AND o.id IN (SELECT order_id FROM refunds) RETURNING id",
    );
    assert.equal(p.verb, 'update');
    assert.equal(p.table, 'shop.orders');
    assert.match(oneLine(p.count)!, /^SELECT count\(\*\) FROM ONLY shop\.orders AS o WHERE /);
    assert.match(p.count!, /'%a''b%'/);
    assert.doesNotMatch(p.count!, /RETURNING|SET|status = 'x'/);
  });

  it('no WHERE: the count is the whole table', () => {
    assert.equal(oneLine(probes('DELETE FROM orders').count), 'SELECT count(*) FROM orders');
  });

  it('literals that look like SQL stay literals (no injection through the rewrite)', () => {
    const p = probes("DELETE FROM t WHERE a = 'x''; DROP TABLE t; --' AND b = $$y$$");
    const facts = analyzePostgres(p.count!).facts;
    assert.equal(facts.multiStatement, false);
    assert.deepEqual(facts.kinds, ['select']);
    assert.match(p.count!, /'x''; DROP TABLE t; --'/);
  });

  it('joins, CTEs and cursors get EXPLAIN only, with the reason', () => {
    for (const [sql, why] of [
      ['DELETE FROM a USING b WHERE a.id = b.id', /USING/],
      ['UPDATE a SET x = b.x FROM b WHERE a.id = b.id', /FROM/],
      ['WITH s AS (SELECT 1) DELETE FROM a WHERE id IN (SELECT * FROM s)', /WITH/],
      ['DELETE FROM a WHERE CURRENT OF c', /CURSOR/i],
      ['INSERT INTO a SELECT * FROM b', /INSERT/],
    ] as const) {
      const p = probes(sql);
      assert.equal(p.count, undefined, sql);
      assert.match(p.noCount!, why, sql);
      assert.match(p.explain, /^EXPLAIN \(FORMAT JSON\) /);
    }
  });

  it('refuses what it cannot vouch for', () => {
    for (const [sql, why] of [
      ['SELECT 1', /not an INSERT/],
      ['DELETE FROM a; DELETE FROM b', /more than one/],
      ['DELETE FROM a WHERE id = $1', /bind parameters/],
      ['DELETE FROM WHERE', /parsed/],
      ['DROP TABLE a', /not an INSERT/],
      ['EXPLAIN ANALYZE DELETE FROM a', /not an INSERT/],
    ] as const) {
      const p = impactProbes(sql);
      assert.equal(p.ok, false, sql);
      if (!p.ok) assert.match(p.reason, why, sql);
    }
  });
});

describe('planRows', () => {
  it("reads the ModifyTable input's estimate, null for garbage", () => {
    const plan = JSON.stringify([
      { Plan: { 'Node Type': 'ModifyTable', 'Plan Rows': 0, Plans: [{ 'Plan Rows': 42 }] } },
    ]);
    assert.equal(planRows(plan), 42);
    assert.equal(planRows(JSON.stringify([{ Plan: { 'Plan Rows': 7 } }])), 7);
    assert.equal(planRows('nope'), null);
    assert.equal(planRows(null), null);
  });
});
