import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzePostgres, initAnalysis } from '../../../src/analysis/index.js';

const facts = (sql: string, ctx?: Parameters<typeof analyzePostgres>[1]) => analyzePostgres(sql, ctx).facts;

describe('analyzePostgres: statement kinds', () => {
  before(() => initAnalysis());

  it('a data-modifying CTE adds its kind and is an unfiltered write', () => {
    const f = facts('WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d');
    assert.deepEqual(f.kinds, ['select', 'delete']);
    assert.equal(f.writes, true);
    assert.equal(f.allWritesFiltered, false);
    assert.deepEqual(f.tables, ['orders']); // the CTE name `d` is not a table
    assert.deepEqual(f.writtenTables, ['orders']);
  });

  it('EXPLAIN ANALYZE runs the statement; plain EXPLAIN only plans it', () => {
    const analyze = facts('EXPLAIN ANALYZE DELETE FROM orders');
    assert.deepEqual(analyze.kinds, ['explain', 'delete']);
    assert.equal(analyze.writes, true);
    assert.equal(analyze.allWritesFiltered, false);

    const plain = facts('EXPLAIN DELETE FROM orders');
    assert.deepEqual(plain.kinds, ['explain']);
    assert.equal(plain.writes, false);
    assert.equal(plain.allWritesFiltered, true);
    assert.deepEqual(plain.writtenTables, []);

    assert.deepEqual(facts('EXPLAIN (ANALYZE false) DELETE FROM orders').kinds, ['explain']);
    assert.deepEqual(facts('EXPLAIN (ANALYZE 0) DELETE FROM orders').kinds, ['explain']);
    assert.deepEqual(facts('EXPLAIN (ANALYZE 1) DELETE FROM orders').kinds, ['explain', 'delete']);
    assert.deepEqual(facts('EXPLAIN (ANALYZE on, BUFFERS) SELECT 1').kinds, ['explain', 'select']);
  });

  it('SELECT … INTO and CREATE TABLE … AS are create, and write', () => {
    for (const sql of ['SELECT * INTO archive FROM orders', 'CREATE TABLE archive AS SELECT * FROM orders']) {
      const f = facts(sql);
      assert.deepEqual(f.kinds, ['create'], sql);
      assert.equal(f.writes, true, sql);
      assert.deepEqual(f.writtenTables, ['archive'], sql);
      assert.deepEqual(f.tables.slice().sort(), ['archive', 'orders'], sql);
    }
    assert.deepEqual(facts('SELECT 1 UNION SELECT 2 INTO t').kinds, ['create']);
  });

  it('SET ROLE, SET SESSION AUTHORIZATION, RESET ROLE and SET role = … are set_role', () => {
    for (const sql of [
      'SET ROLE admin',
      "SET role = 'admin'",
      'SET LOCAL ROLE admin',
      'SET SESSION AUTHORIZATION bob',
      'RESET ROLE',
      'RESET SESSION AUTHORIZATION',
    ]) {
      assert.deepEqual(facts(sql).kinds, ['set_role'], sql);
    }
    assert.deepEqual(facts('SET ROLE admin').settings, ['role']);
    assert.deepEqual(facts('SET SESSION AUTHORIZATION bob').settings, ['session_authorization']);
    assert.deepEqual(facts('SET search_path = x').kinds, ['set']);
    assert.deepEqual(facts('RESET search_path').kinds, ['reset']);
  });

  it('PREPARE adds the prepared statement’s kinds; EXECUTE adds them from the session context', () => {
    const prepare = facts('PREPARE purge(int) AS DELETE FROM orders WHERE id = $1');
    assert.deepEqual(prepare.kinds, ['prepare', 'delete']);
    assert.equal(prepare.allWritesFiltered, true);

    assert.deepEqual(facts('EXECUTE purge(1)').kinds, ['execute']);
    assert.equal(facts('EXECUTE purge(1)').writes, false);

    const { prepares } = analyzePostgres('PREPARE Purge(int) AS DELETE FROM orders WHERE id = $1');
    assert.deepEqual(prepares, [{ name: 'purge', kinds: ['delete'] }]);
    const prepared = new Map(prepares.map((p) => [p.name, p.kinds]));
    const execute = facts('EXECUTE purge(2)', { prepared });
    assert.deepEqual(execute.kinds, ['execute', 'delete']);
    assert.equal(execute.writes, true);
    // A name the session did not prepare adds nothing.
    assert.deepEqual(facts('EXECUTE other(2)', { prepared }).kinds, ['execute']);
    assert.deepEqual(facts('CREATE TABLE t AS EXECUTE purge(3)', { prepared }).kinds, ['create', 'execute', 'delete']);
  });

  it('EXECUTE merging does not poison the cached facts', () => {
    const prepared = new Map([['p', ['update' as const]]]);
    assert.deepEqual(facts('EXECUTE p(10)', { prepared }).kinds, ['execute', 'update']);
    const again = facts('EXECUTE p(11)');
    assert.deepEqual(again.kinds, ['execute']);
    assert.equal(again.writes, false);
  });

  it('DECLARE … CURSOR FOR and COPY (query) TO add the nested kinds', () => {
    assert.deepEqual(facts('DECLARE c CURSOR FOR SELECT * FROM orders').kinds, ['declare', 'select']);
    assert.deepEqual(facts('COPY (SELECT * FROM orders) TO STDOUT').kinds, ['copy', 'select']);
    const copyDelete = facts('COPY (DELETE FROM orders RETURNING id) TO STDOUT');
    assert.deepEqual(copyDelete.kinds, ['copy', 'delete']);
    assert.equal(copyDelete.allWritesFiltered, false);
  });

  it('MERGE, GRANT, REVOKE, DO, CALL and other commands', () => {
    const merge = facts('MERGE INTO stock t USING incoming s ON t.id = s.id WHEN MATCHED THEN UPDATE SET qty = s.qty');
    assert.deepEqual(merge.kinds, ['merge']);
    assert.deepEqual(merge.writtenTables, ['stock']);
    assert.deepEqual(merge.tables, ['stock', 'incoming']);
    // MERGE is bounded only by a VALUES list or a bounded query (DESIGN.md §1), not a whole table
    assert.equal(merge.allWritesFiltered, false);
    const mergeOnTrue = facts('MERGE INTO stock t USING incoming s ON true WHEN MATCHED THEN DELETE');
    assert.equal(mergeOnTrue.allWritesFiltered, false);

    assert.deepEqual(facts('GRANT SELECT ON customers TO bob').kinds, ['grant']);
    assert.deepEqual(facts('GRANT SELECT ON customers TO bob').tables, ['customers']);
    assert.deepEqual(facts('GRANT admin TO bob').kinds, ['grant']);
    assert.deepEqual(facts('REVOKE ALL ON customers FROM bob').kinds, ['revoke']);
    assert.deepEqual(facts('DO $$ BEGIN PERFORM pg_sleep(1); END $$').kinds, ['do']);
    const call = facts('CALL archive_orders(30)');
    assert.deepEqual(call.kinds, ['call']);
    assert.deepEqual(call.functions, ['archive_orders']);

    const table: [string, string[]][] = [
      ['TRUNCATE orders', ['truncate']],
      ['DROP TABLE public.orders', ['drop']],
      ['ALTER TABLE orders ADD COLUMN x int', ['alter']],
      ['CREATE INDEX ON orders (lower(email))', ['create']],
      ['CREATE VIEW v AS SELECT 1', ['create']],
      ["COMMENT ON TABLE orders IS 'x'", ['comment']],
      ['SHOW search_path', ['show']],
      ['BEGIN', ['transaction']],
      ['COMMIT', ['transaction']],
      ['DEALLOCATE p', ['deallocate']],
      ['FETCH 10 FROM c', ['fetch']],
      ['CLOSE c', ['close']],
      ['LISTEN chan', ['listen']],
      ["NOTIFY chan, 'x'", ['notify']],
      ["LOAD 'auto_explain'", ['load']],
      ['VACUUM orders', ['vacuum']],
      ['ANALYZE orders', ['analyze']],
      ['CLUSTER orders USING orders_pkey', ['cluster']],
      ['REINDEX TABLE orders', ['reindex']],
      ['LOCK TABLE orders', ['lock']],
      ['REFRESH MATERIALIZED VIEW mv', ['refresh']],
      ['ALTER SYSTEM SET work_mem = 1', ['alter_system']],
      ['CHECKPOINT', ['checkpoint']],
      ["SECURITY LABEL ON TABLE orders IS 'secret'", ['security_label']],
      ['CREATE ROLE eve SUPERUSER', ['create']],
    ];
    for (const [sql, kinds] of table) assert.deepEqual(facts(sql).kinds, kinds, sql);
    assert.deepEqual(facts('DROP TABLE public.orders, items').tables, ['public.orders', 'items']);
    assert.deepEqual(facts('ALTER SYSTEM SET work_mem = 1').settings, ['work_mem']);
    assert.equal(facts('TRUNCATE orders').allWritesFiltered, false);
  });

  it('a CREATE RULE action is stored, not run: no write now', () => {
    const f = facts('CREATE RULE r AS ON INSERT TO a DO ALSO DELETE FROM b');
    assert.deepEqual(f.kinds, ['create']);
    assert.equal(f.writes, false);
    assert.deepEqual(f.tables.slice().sort(), ['a', 'b']);
  });

  it('multi-statement strings: kinds in order, one source text per statement', () => {
    const a = analyzePostgres("SELECT 1; UPDATE orders SET paid = true WHERE id = 7 ;; DROP TABLE orders; SELECT 'é;'");
    assert.equal(a.facts.multiStatement, true);
    assert.deepEqual(a.facts.kinds, ['select', 'update', 'drop', 'select']);
    assert.deepEqual(a.statements, [
      'SELECT 1',
      'UPDATE orders SET paid = true WHERE id = 7',
      'DROP TABLE orders',
      "SELECT 'é;'",
    ]);
    assert.equal(analyzePostgres('SELECT 1;').facts.multiStatement, false);
    assert.deepEqual(analyzePostgres('SELECT 1;').statements, ['SELECT 1']);
  });

  it('a statement that does not parse: parsed false, kinds [unparsed], no throw', () => {
    for (const sql of [
      'SELEC * FROM orders',
      'SELECT 1; DELETE FROM',
      "SELECT 'unterminated",
      'SELECT 1\u0000; DROP TABLE x',
    ]) {
      const a = analyzePostgres(sql);
      assert.equal(a.facts.parsed, false, sql);
      assert.deepEqual(a.facts.kinds, ['unparsed'], sql);
      assert.match(a.facts.fingerprint, /^[0-9a-f]{16}$/);
    }
  });

  it('SQL text inside a string literal is just a harmless select', () => {
    const f = facts("SELECT 'DROP TABLE x; DELETE FROM y'");
    assert.deepEqual(f.kinds, ['select']);
    assert.equal(f.multiStatement, false);
    assert.equal(f.writes, false);
    assert.deepEqual(f.tables, []);
  });

  it('caller misuse is a TypeError', () => {
    assert.throws(() => analyzePostgres(42 as unknown as string), TypeError);
  });
});
