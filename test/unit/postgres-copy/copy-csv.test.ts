import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initAnalysis } from '../../../src/analysis/pg-parser.js';
import {
  type CsvChars,
  csvRowEnd,
  decodeCsvField,
  encodeCsvField,
  splitCsvRow,
} from '../../../src/protocols/postgres/copy/copy-csv.js';
import { CopyMaskError } from '../../../src/protocols/postgres/copy/index.js';
import { type Col, cut, leaks, makeCopier, masker, OID, run, specOf } from './support.js';

before(() => initAnalysis());

const b = (s: string) => Buffer.from(s, 'utf8');

/** Rows of a CSV payload as PostgreSQL would read them back (null for an unquoted NULL string). */
function parseCsv(out: Buffer, sql: string): (string | null)[][] {
  const spec = specOf(sql);
  const ch: CsvChars = {
    delim: spec.delimiter.charCodeAt(0),
    quote: spec.quote.charCodeAt(0),
    escape: spec.escape.charCodeAt(0),
  };
  const rows: (string | null)[][] = [];
  const f: number[] = [];
  let p = 0;
  for (;;) {
    const nl = csvRowEnd(out, p, out.length, ch);
    if (nl < 0) break;
    const n = splitCsvRow(out, p, nl, ch, f);
    assert.ok(n >= 0);
    const row: (string | null)[] = [];
    for (let i = 0; i < n; i++) {
      const s = f[i * 3]!;
      const e = f[i * 3 + 1]!;
      if (f[i * 3 + 2] === 0 && out.toString('utf8', s, e) === spec.null) row.push(null);
      else row.push(decodeCsvField(out, s, e, ch));
    }
    rows.push(row);
    p = nl + 1;
  }
  assert.equal(p, out.length, 'output ends with a complete row');
  return rows;
}

const CARD_NOTES: Col[] = [
  ['id', OID.int4],
  ['card_number', OID.text],
  ['notes', OID.text],
];

describe('COPY CSV format masking', () => {
  it("QUOTE '4': a card quoted with 4s is masked by column, one in notes by detector", () => {
    const sql = "COPY customers (id, card_number, notes) TO STDOUT WITH (FORMAT csv, QUOTE '4')";
    // As PostgreSQL writes it: a field holding the quote character is quoted, its 4s doubled.
    const line = '1,444111 1111 1111 11114,4pay with 440128888888818814\n';
    const ch: CsvChars = { delim: 44, quote: 0x34, escape: 0x34 };
    assert.equal(encodeCsvField('4111 1111 1111 1111', ch, '', false, false).toString(), '444111 1111 1111 11114');
    const r = run(sql, CARD_NOTES, [b(line)]);
    assert.deepEqual(leaks(r.all), []);
    assert.ok(!r.all.toString().includes('4012888888881881'));
    assert.deepEqual(parseCsv(r.all, sql), [
      ['1', masker.redactColumnValue('4111 1111 1111 1111'), masker.maskText('pay with 4012888888881881')],
    ]);
    assert.deepEqual(r.rows, parseCsv(r.all, sql));
  });

  it("DELIMITER '@': a quoted email is masked and re-quoted", () => {
    const sql = "COPY customers (id, email) TO STDOUT DELIMITER '@' CSV";
    const cols: Col[] = [
      ['id', OID.int4],
      ['email', OID.text],
    ];
    const r = run(sql, cols, [b('1@"ada@example.com"\n2@\n')]);
    assert.deepEqual(leaks(r.all), []);
    assert.deepEqual(parseCsv(r.all, sql), [
      ['1', masker.redactColumnValue('ada@example.com')],
      ['2', null],
    ]);
  });

  it("ESCAPE '\\\\': escaped quotes inside a quoted field are decoded and re-escaped", () => {
    const sql = "COPY customers (id, notes) TO STDOUT (FORMAT csv, ESCAPE '\\')";
    const cols: Col[] = [
      ['id', OID.int4],
      ['notes', OID.text],
    ];
    const value = 'say "ada@example.com" \\ now';
    const r = run(sql, cols, [b('1,"say \\"ada@example.com\\" \\\\ now"\n')]);
    assert.deepEqual(leaks(r.all), []);
    assert.deepEqual(parseCsv(r.all, sql), [['1', masker.maskText(value)]]);
  });

  it('a quoted field with raw newlines is one row, whatever the cut', () => {
    const sql = 'COPY customers (id, notes) TO STDOUT CSV';
    const cols: Col[] = [
      ['id', OID.int4],
      ['notes', OID.text],
    ];
    const payload = b('1,"line one\nada@example.com\r\n,""x"""\n2,plain\n');
    const whole = run(sql, cols, [payload]);
    assert.equal(whole.rowCount, 2);
    assert.deepEqual(leaks(whole.all), []);
    assert.deepEqual(parseCsv(whole.all, sql), [
      ['1', masker.maskText('line one\nada@example.com\r\n,"x"')],
      ['2', 'plain'],
    ]);
    for (let i = 0; i <= payload.length; i++) {
      const r = run(sql, cols, cut(payload, [i]));
      assert.equal(r.all.toString(), whole.all.toString(), `cut at ${i}`);
    }
  });

  it('HEADER, FORCE QUOTE *, NULL and the empty string', () => {
    const sql = "COPY customers (id, email, phone) TO STDOUT (FORMAT csv, HEADER, FORCE_QUOTE *, NULL 'NULL')";
    const cols: Col[] = [
      ['id', OID.int4],
      ['email', OID.text],
      ['phone', OID.text],
    ];
    const r = run(sql, cols, [b('"id","email","phone"\n'), b('"1",NULL,""\n'), b('"2","NULL","+1 415 555 0132"\n')]);
    assert.equal(r.rowCount, 2);
    assert.deepEqual(leaks(r.all), []);
    const rows = parseCsv(r.all, sql);
    assert.deepEqual(rows[0], ['id', 'email', 'phone']);
    assert.deepEqual(rows[1], ['1', null, '']);
    // A value spelled like the NULL string stays a quoted value.
    assert.deepEqual(rows[2], ['2', masker.redactColumnValue('NULL'), masker.redactColumnValue('+1 415 555 0132')]);
    assert.ok(r.all.toString().split('\n')[2]!.startsWith('"2","'));
  });

  it('quotes a redacted value that now holds the delimiter or equals the NULL string', () => {
    const ch: CsvChars = { delim: 0x40, quote: 0x22, escape: 0x22 };
    assert.equal(encodeCsvField('a***@example.com', ch, '', false, false).toString(), '"a***@example.com"');
    assert.equal(encodeCsvField('***', ch, '***', false, false).toString(), '"***"');
    assert.equal(encodeCsvField('\\.', ch, '', false, true).toString(), '"\\."');
    assert.equal(
      encodeCsvField('a"b', { delim: 44, quote: 0x22, escape: 0x5c }, '', false, false).toString(),
      '"a\\"b"',
    );
  });

  it("refuses NULL 'x@y.com' in CSV too", () => {
    assert.throws(
      () =>
        makeCopier("COPY customers (id, email) TO STDOUT (FORMAT csv, NULL 'x@y.com')", [
          ['id', OID.int4],
          ['email', OID.text],
        ]),
      (e: unknown) => e instanceof CopyMaskError && e.code === 'refused',
    );
  });

  it('fails closed on an unterminated quoted field at CopyDone', () => {
    const copier = makeCopier('COPY customers (id, notes) TO STDOUT CSV', [
      ['id', OID.int4],
      ['notes', OID.text],
    ]);
    const f = Buffer.concat([Buffer.from([0x64, 0, 0, 0, 4 + 22]), b('1,"ada@example.com\nstil')]);
    assert.equal(copier.data(f, f, 5, f.length - 5), null, 'nothing complete yet');
    assert.throws(
      () => copier.end(),
      (e: unknown) => e instanceof CopyMaskError && e.code === 'malformed',
    );
  });
});
