// SQL given to functions as text (ts_stat, query_to_xml, dblink, …) is analyzed when it is a
// literal, and makes the statement's SQL dynamic when it is not.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzePostgres, clearSqlAnalysisCache, initAnalysis } from '../../../src/analysis/index.js';

const facts = (sql: string) => analyzePostgres(sql).facts;
const KILL = 'select to_tsvector(pg_terminate_backend(pid)::text) from pg_stat_activity';

describe('SQL nested in string arguments', () => {
  before(() => initAnalysis());

  it('a literal argument is analyzed: its functions, tables and kinds join the facts', () => {
    const forms = [
      `select * from ts_stat($$${KILL}$$)`,
      `select * from ts_stat('${KILL}')`,
      `select * from ts_stat($q$${KILL}$q$)`,
      `select * from ts_stat(E'${KILL}')`,
      `select * from ts_stat('${KILL}'::text)`,
      `select * from ts_stat(CAST('${KILL}' AS text))`,
      `select * from pg_catalog.ts_stat('${KILL}')`,
      `select * from ts_stat(sqlquery => '${KILL}')`,
    ];
    for (const sql of forms) {
      const f = facts(sql);
      assert.equal(f.parsed, true, sql);
      assert.equal(f.dynamicSql, false, sql);
      assert.ok(f.functions.includes('pg_terminate_backend'), sql);
      assert.ok(f.functions.includes('ts_stat'), sql);
      assert.ok(f.tables.includes('pg_stat_activity'), sql);
      assert.deepEqual(f.kinds, ['select'], sql);
    }
  });

  it('E-string escapes are resolved before the nested parse', () => {
    const f = facts("select * from ts_stat(E'select to_tsvector(x) from \\'t\\'')");
    assert.equal(f.parsed, false, "the nested text is `… from 't'`, which does not parse");
    assert.ok(facts('select * from ts_stat(E\'select to_tsvector(x) from \\"T\\"\')').tables.includes('t'));
  });

  it('query_to_xml family, ts_rewrite(query, select), dblink*: the SQL argument', () => {
    const cases: [string, string][] = [
      ["select query_to_xml('select ssn from customers', true, true, '')", 'customers'],
      ["select query_to_xmlschema('select ssn from customers', true, true, '')", 'customers'],
      ["select query_to_xml_and_xmlschema('select ssn from customers', true, true, '')", 'customers'],
      [
        "select query_to_xml(query => 'select ssn from customers', nulls => true, tableforest => true, targetns => '')",
        'customers',
      ],
      ["select ts_rewrite('a & b'::tsquery, 'select t, s from aliases')", 'aliases'],
      ["select * from dblink('select ssn from customers') as t(ssn text)", 'customers'],
      ["select * from dblink('dbname=shop', 'select ssn from customers') as t(ssn text)", 'customers'],
      ["select * from dblink('select ssn from customers', false) as t(ssn text)", 'customers'],
      ["select * from dblink('conn', 'select ssn from customers', true) as t(ssn text)", 'customers'],
      ["select dblink_exec('dbname=shop', 'delete from customers')", 'customers'],
      ["select dblink_open('c1', 'select ssn from customers')", 'customers'],
      ["select dblink_open('conn', 'c1', 'select ssn from customers')", 'customers'],
      ["select dblink_send_query('conn', 'select ssn from customers')", 'customers'],
      ["select cron.schedule('nightly', '0 3 * * *', 'delete from customers')", 'customers'],
      ["select run_command_on_workers('delete from customers')", 'customers'],
    ];
    for (const [sql, table] of cases) {
      const f = facts(sql);
      assert.equal(f.parsed, true, sql);
      assert.equal(f.dynamicSql, false, sql);
      assert.ok(f.tables.includes(table), `${table} in ${sql}: ${f.tables}`);
    }
    // the 3-argument ts_rewrite takes tsqueries, not SQL
    assert.equal(facts("select ts_rewrite('a & b'::tsquery, 'a'::tsquery, 'c'::tsquery)").parsed, true);
  });

  it('nested writes are writes: kinds, writtenTables, allWritesFiltered', () => {
    const f = facts("select dblink_exec('dbname=shop', 'delete from orders')");
    assert.deepEqual(f.kinds, ['select', 'delete']);
    assert.deepEqual(f.writtenTables, ['orders']);
    assert.equal(f.writes, true);
    assert.equal(f.allWritesFiltered, false);
    const filtered = facts("select dblink_exec('dbname=shop', 'delete from orders where id = 3')");
    assert.equal(filtered.allWritesFiltered, true);
    const settings = facts("select dblink_exec('dbname=shop', 'set standard_conforming_strings = off')");
    assert.deepEqual(settings.settings, ['standard_conforming_strings']);
    assert.ok(settings.kinds.includes('set'));
  });

  it('recursively: SQL in a string in a string', () => {
    const inner = "select query_to_xml(''select pg_read_file(''''/etc/passwd'''')'', true, true, '''')";
    const f = facts(`select * from ts_stat('select to_tsvector(x::text) from (${inner}) s(x)')`);
    assert.equal(f.parsed, true);
    assert.ok(f.functions.includes('pg_read_file'), String(f.functions));
    // too deep: fail closed
    let sql = "select 'x'";
    for (let i = 0; i < 6; i++) sql = `select query_to_xml($n${i}$${sql}$n${i}$, true, true, '')`;
    assert.equal(facts(sql).parsed, false);
  });

  it('a non-literal argument makes the SQL dynamic', () => {
    const dynamic = [
      "select * from ts_stat('select to_tsvector(pg_terminate' || '_backend(pid)::text) from pg_stat_activity')",
      "select query_to_xml(chr(115) || 'elect 1', true, true, '')",
      'select query_to_xml($1, true, true, $2)',
      "select query_to_xml(q, true, true, '') from queries",
      "select * from dblink('dbname=shop', cmd) as t(x int) , cmds",
      "select table_to_xml(t, true, true, '') from names",
      "select database_to_xml(true, true, '')",
      "select schema_to_xml('public', true, true, '')",
      "select query_to_xml(nul => true, query2 => 'select 1')",
      'DO $$ BEGIN PERFORM pg_terminate_backend(1); END $$',
    ];
    for (const sql of dynamic) {
      const f = facts(sql);
      assert.equal(f.parsed, true, sql);
      assert.equal(f.dynamicSql, true, sql);
    }
    assert.equal(facts("select to_tsvector('select 1')").dynamicSql, false);
    assert.equal(facts('select 1').dynamicSql, false);
  });

  it('table_to_xml: a literal table name is a table read', () => {
    assert.deepEqual(facts("select table_to_xml('public.Customers', true, true, '')").tables, ['public.customers']);
    assert.deepEqual(facts("select table_to_xml('\"Odd Name\"', true, true, '')").tables, ['odd name']);
    assert.deepEqual(facts("select table_to_xml('customers'::regclass, true, true, '')").tables, ['customers']);
    assert.equal(facts("select table_to_xml('customers; drop table x', true, true, '')").dynamicSql, true);
    assert.equal(facts("select table_to_xml(16384, true, true, '')").dynamicSql, true);
  });

  it('nested SQL that does not parse fails closed: the whole text is unparsed', () => {
    for (const sql of [
      "select * from ts_stat('selec 1')",
      "select query_to_xml('select (', true, true, '')",
      "select * from ts_stat('select ''unterminated')",
    ]) {
      const f = facts(sql);
      assert.equal(f.parsed, false, sql);
      assert.deepEqual(f.kinds, ['unparsed'], sql);
    }
  });

  it('the cache does not share facts between different literals', () => {
    clearSqlAnalysisCache();
    assert.deepEqual(facts("select * from ts_stat('select to_tsvector(a) from t1')").tables, ['t1']);
    assert.deepEqual(facts("select * from ts_stat('select to_tsvector(a) from t2')").tables, ['t2']);
    assert.equal(facts("select * from ts_stat('selec')").parsed, false);
    assert.deepEqual(facts("select * from ts_stat('select to_tsvector(a) from t1')").tables, ['t1']);
    // a number where SQL is expected normalizes like a string: it must not borrow or lend facts
    clearSqlAnalysisCache();
    assert.equal(facts('select * from ts_stat(1)').dynamicSql, true);
    assert.ok(facts(`select * from ts_stat('${KILL}')`).functions.includes('pg_terminate_backend'));
  });
});
