import assert from 'node:assert/strict';
import { before, beforeEach, describe, it } from 'node:test';
import {
  analyzePostgres,
  clearSqlAnalysisCache,
  initAnalysis,
  normalizeSql,
  sqlAnalysisCacheSize,
} from '../../../src/analysis/index.js';

describe('normalizeSql (the cache key)', () => {
  it('replaces literals of every form with ?', () => {
    assert.equal(
      normalizeSql("SELECT 'it''s', E'a\\'b', 42, 3.14, .5, 1e10, 0x1F, 1_000").text,
      'SELECT ?, ?, ?, ?, ?, ?, ?, ?',
    );
    assert.equal(normalizeSql("SELECT B'0101', X'ff', N'x', U&'d\\0061t'").text, 'SELECT ?, ?, ?, ?');
    assert.equal(normalizeSql('SELECT $$a; DROP TABLE x$$, $fn$ b $$ c $fn$').text, 'SELECT ?, ?');
    assert.equal(normalizeSql("SELECT E'\\\\', 'x'").text, 'SELECT ?, ?');
  });

  it('keeps identifiers, quoted identifiers, parameters and operators verbatim', () => {
    assert.equal(
      normalizeSql('SELECT "we""ird"."Col 1", t1.a$b FROM x WHERE a = $1 AND b <> -2').text,
      'SELECT "we""ird"."Col 1", t1.a$b FROM x WHERE a = $1 AND b <> -?',
    );
    assert.equal(normalizeSql('SELECT "a""b" FROM x').text, 'SELECT "a""b" FROM x');
    assert.equal(normalizeSql("SELECT e1 FROM x WHERE entry = 'e'").text, 'SELECT e1 FROM x WHERE entry = ?');
  });

  it('collapses whitespace and comments (nested too) to one space', () => {
    const messy = "  SELECT\t*  -- trailing ' quote\nFROM /* a /* nested ' */ comment */ orders\r\n WHERE id=1 ";
    assert.equal(normalizeSql(messy).text, 'SELECT * FROM orders WHERE id=?');
    assert.equal(normalizeSql('SELECT a/**/FROM t').text, 'SELECT a FROM t');
    assert.equal(normalizeSql('-- only a comment').text, '');
  });

  it('records only semicolons that are tokens', () => {
    const sql = "SELECT ';'; SELECT $$;$$ /* ; */ ; -- ;\nSELECT 1";
    const n = normalizeSql(sql);
    assert.deepEqual(
      n.semicolons.map((i) => sql[i]),
      [';', ';'],
    );
    assert.equal(n.semicolons.length, 2);
  });
});

describe('analyzePostgres cache', () => {
  before(() => initAnalysis());
  beforeEach(() => clearSqlAnalysisCache());

  it('statements differing only in literals share one entry', () => {
    const a = analyzePostgres("SELECT * FROM orders WHERE id = 1 AND note = 'x'");
    const b = analyzePostgres("SELECT * FROM orders WHERE id = 922 AND note = E'y\\'z'");
    assert.equal(sqlAnalysisCacheSize(), 1);
    assert.equal(a.facts, b.facts); // the very same cached object
    assert.equal(a.normalized, b.normalized);
    // per-call data still comes from this call's text
    assert.deepEqual(b.statements, ["SELECT * FROM orders WHERE id = 922 AND note = E'y\\'z'"]);
  });

  it('different statements get different entries', () => {
    analyzePostgres('SELECT * FROM orders WHERE id = 1');
    analyzePostgres('SELECT * FROM customers WHERE id = 1');
    analyzePostgres('DELETE FROM orders WHERE id = 1');
    assert.equal(sqlAnalysisCacheSize(), 3);
  });

  it('dollar-quoted strings and comments normalize to the same entry', () => {
    const a = analyzePostgres('SELECT $$DROP TABLE x$$ -- hi\n FROM orders');
    const b = analyzePostgres('SELECT $tag$ anything ; at all $tag$ /* other */ FROM   orders');
    const c = analyzePostgres("SELECT 'plain' FROM orders");
    assert.equal(sqlAnalysisCacheSize(), 1);
    assert.equal(a.facts, b.facts);
    assert.equal(a.facts, c.facts);
    assert.deepEqual(b.facts.kinds, ['select']);
  });

  it('statement texts are cut from each call’s own text, even when literals change length', () => {
    analyzePostgres("SELECT 'a'; DELETE FROM orders WHERE id = 1");
    const b = analyzePostgres("SELECT 'much longer ; literal é'; DELETE FROM orders WHERE id = 123456");
    assert.equal(sqlAnalysisCacheSize(), 1);
    assert.deepEqual(b.statements, ["SELECT 'much longer ; literal é'", 'DELETE FROM orders WHERE id = 123456']);
  });

  it('facts that depend on a literal are not shared between literals', () => {
    assert.deepEqual(analyzePostgres("SELECT set_config('search_path', 'x', false)").facts.settings, ['search_path']);
    assert.deepEqual(analyzePostgres("SELECT set_config('role', 'admin', false)").facts.settings, ['role']);
    assert.deepEqual(analyzePostgres("SELECT set_config('search_path', 'y', false)").facts.settings, ['search_path']);
    assert.deepEqual(analyzePostgres('EXPLAIN (ANALYZE 0) DELETE FROM orders').facts.kinds, ['explain']);
    assert.deepEqual(analyzePostgres('EXPLAIN (ANALYZE 1) DELETE FROM orders').facts.kinds, ['explain', 'delete']);
  });

  it('a constant condition is judged by shape, so WHERE 1=2 cannot vouch for WHERE 1=1', () => {
    assert.equal(analyzePostgres('DELETE FROM orders WHERE 1=2').facts.allWritesFiltered, false);
    assert.equal(analyzePostgres('DELETE FROM orders WHERE 1=1').facts.allWritesFiltered, false);
  });

  it('an unclosed string or comment never borrows the facts of the closed one', () => {
    assert.equal(analyzePostgres("SELECT 'abc'").facts.parsed, true);
    assert.equal(analyzePostgres('SELECT $$x$$').facts.parsed, true);
    for (const sql of [
      "SELECT 'abc",
      'SELECT $$ ; DROP TABLE x',
      'SELECT 1 /* /* */',
      'SELECT "abc',
      "SELECT E'a\\'",
    ]) {
      assert.equal(normalizeSql(sql).complete, false, sql);
      assert.deepEqual(analyzePostgres(sql).facts.kinds, ['unparsed'], sql);
    }
    assert.equal(normalizeSql("SELECT 'abc' /* c */ -- d").complete, true);
  });

  it('unparsed text is not cached, and cached facts are frozen', () => {
    analyzePostgres('SELEC 1');
    assert.equal(sqlAnalysisCacheSize(), 0);
    const f = analyzePostgres('SELECT 1').facts;
    assert.throws(() => f.kinds.push('drop'), TypeError);
    assert.throws(() => {
      (f as { writes: boolean }).writes = true;
    }, TypeError);
  });
});
