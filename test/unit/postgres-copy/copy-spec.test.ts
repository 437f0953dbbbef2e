import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initAnalysis } from '../../../src/analysis/pg-parser.js';
import { copyOutSpecsOf, copySpecOf, describeSql } from '../../../src/protocols/postgres/copy/index.js';

before(() => initAnalysis());

describe('copySpecOf', () => {
  it('reads a table, its column list and the new WITH (…) options', () => {
    const s = copySpecOf(
      "COPY customers (email, \"Ssn\") TO STDOUT WITH (FORMAT csv, DELIMITER '@', QUOTE '4', ESCAPE '\\', NULL 'nil', HEADER true)",
    );
    assert.deepEqual(s, {
      source: { table: 'customers', parts: ['customers'], columns: ['email', 'Ssn'] },
      format: 'csv',
      delimiter: '@',
      null: 'nil',
      quote: '4',
      escape: '\\',
      header: true,
      encoding: null,
      refuse: null,
    });
  });

  it('reads the old option syntax the same way', () => {
    const old = copySpecOf("COPY public.customers TO STDOUT DELIMITER '@' CSV QUOTE '4' HEADER NULL 'x'");
    const neu = copySpecOf("COPY public.customers TO STDOUT (DELIMITER '@', FORMAT csv, QUOTE '4', HEADER, NULL 'x')");
    assert.deepEqual(old, neu);
    assert.equal(old?.source && 'table' in old.source ? old.source.table : '', 'public.customers');
    assert.equal(old?.escape, '4', 'escape defaults to the quote');
    assert.equal(copySpecOf('COPY customers TO STDOUT BINARY')?.format, 'binary');
    assert.equal(copySpecOf('COPY customers TO STDOUT WITH BINARY')?.format, 'binary');
  });

  it('gives each format its defaults', () => {
    const t = copySpecOf('COPY customers TO STDOUT');
    assert.equal(t?.format, 'text');
    assert.equal(t?.delimiter, '\t');
    assert.equal(t?.null, '\\N');
    assert.equal(t?.header, false);
    const c = copySpecOf('COPY customers TO STDOUT CSV');
    assert.equal(c?.delimiter, ',');
    assert.equal(c?.null, '');
    assert.equal(c?.quote, '"');
    assert.equal(c?.escape, '"');
    assert.equal(copySpecOf("COPY t TO STDOUT (DELIMITER E'\\t', HEADER 1)")?.header, true);
    assert.equal(copySpecOf("COPY t TO STDOUT (HEADER 'off')")?.header, false);
  });

  it('slices the inner query, ignoring parentheses in strings and comments, after multibyte text', () => {
    const s = copySpecOf(
      "/* é ( */ COPY ( SELECT 'a)(' AS x, $$)$$, email /* ) */ FROM customers WHERE (id > 2) ) TO STDOUT CSV",
    );
    assert.deepEqual(s?.source, { query: "SELECT 'a)(' AS x, $$)$$, email /* ) */ FROM customers WHERE (id > 2)" });
    const inner = copySpecOf('COPY (WITH c AS (SELECT ssn FROM customers) SELECT * FROM c) TO STDOUT');
    assert.deepEqual(inner?.source, { query: 'WITH c AS (SELECT ssn FROM customers) SELECT * FROM c' });
    assert.deepEqual(copySpecOf('COPY (DELETE FROM customers RETURNING email) TO STDOUT')?.source, {
      query: 'DELETE FROM customers RETURNING email',
    });
  });

  it('is null for anything but one COPY … TO STDOUT', () => {
    for (const sql of [
      'SELECT 1',
      'COPY customers FROM STDIN',
      "COPY customers TO '/tmp/x'",
      "COPY customers TO PROGRAM 'cat'",
      'COPY customers TO STDOUT; SELECT 1',
      'not sql at all (',
    ]) {
      assert.equal(copySpecOf(sql), null, sql);
    }
  });

  it('lists every COPY TO STDOUT of a multi-statement text in order', () => {
    const specs = copyOutSpecsOf('SELECT 1; COPY a TO STDOUT; COPY b FROM STDIN; COPY (SELECT 2) TO STDOUT CSV');
    assert.deepEqual(
      specs.map((s) => [s.source, s.format]),
      [
        [{ table: 'a', parts: ['a'], columns: null }, 'text'],
        [{ query: 'SELECT 2' }, 'csv'],
      ],
    );
  });

  it('refuses what it cannot mask reliably (the proxy fails closed)', () => {
    const refused = (sql: string) => copySpecOf(sql)?.refuse ?? null;
    assert.match(refused("COPY customers TO STDOUT WITH (ENCODING 'LATIN1')")!, /not UTF8/);
    assert.match(refused("COPY customers TO STDOUT (FORMAT binary, ENCODING 'SQL_ASCII')")!, /not UTF8/);
    assert.equal(refused("COPY customers TO STDOUT WITH (ENCODING 'utf-8')"), null);
    assert.equal(refused("COPY customers TO STDOUT WITH (ENCODING 'UTF8')"), null);
    assert.equal(copySpecOf('COPY customers TO STDOUT WITH OIDS'), null, 'not valid syntax since PostgreSQL 12');
    assert.match(refused('COPY customers TO STDOUT (FREEZE, OIDS true)')!, /freeze/);
    assert.match(refused("COPY customers TO STDOUT (FORMAT 'CSV')")!, /format/);
    assert.match(refused("COPY customers TO STDOUT (DELIMITER '@', DELIMITER '-')")!, /twice/);
    assert.match(refused("COPY customers TO STDOUT (DELIMITER 'ab')")!, /single/);
    assert.match(refused("COPY customers TO STDOUT (DELIMITER 'é')")!, /single/);
    assert.match(refused("COPY customers TO STDOUT (QUOTE '4')")!, /CSV/);
    assert.match(refused("COPY customers TO STDOUT (FORMAT binary, NULL 'x')")!, /binary/);
    assert.match(refused('COPY customers TO STDOUT (HEADER match)')!, /HEADER/);
    assert.equal(refused('COPY customers TO STDOUT (FORMAT csv, FORCE_QUOTE *)'), null);
  });
});

describe('describeSql', () => {
  it('selects the same columns in the same order', () => {
    assert.equal(
      describeSql(copySpecOf('COPY customers (email, ssn) TO STDOUT')!),
      'SELECT "email", "ssn" FROM ONLY "customers"',
    );
    assert.equal(
      describeSql(copySpecOf('COPY public."Weird""T" TO STDOUT')!),
      'SELECT * FROM ONLY "public"."Weird""T"',
    );
    assert.equal(
      describeSql(copySpecOf('COPY (SELECT email AS e FROM customers) TO STDOUT')!),
      'SELECT email AS e FROM customers',
    );
  });
});
