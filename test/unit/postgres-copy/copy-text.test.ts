import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initAnalysis } from '../../../src/analysis/pg-parser.js';
import { decodeTextField, encodeTextField, splitTextRow } from '../../../src/protocols/postgres/copy/copy-text.js';
import {
  CopyMaskError,
  CopyOutMasker,
  copyColumnPlan,
  copyRefusal,
} from '../../../src/protocols/postgres/copy/index.js';
import { type Col, cut, fieldsOf, frameOf, leaks, makeCopier, masker, OID, run, sourcesOf, specOf } from './support.js';

before(() => initAnalysis());

const b = (s: string) => Buffer.from(s, 'utf8');
const ID_EMAIL: Col[] = [
  ['id', OID.int4],
  ['email', OID.text],
];

/** Rows of a text-format payload, decoded (null for the NULL marker). */
function parseText(out: Buffer, delim: string, nul = '\\N'): (string | null)[][] {
  const rows: (string | null)[][] = [];
  const f: number[] = [];
  let p = 0;
  for (;;) {
    const nl = out.indexOf(10, p);
    if (nl < 0) break;
    const n = splitTextRow(out, p, nl, delim.charCodeAt(0), f);
    const row: (string | null)[] = [];
    for (let i = 0; i < n; i++) {
      const raw = out.toString('utf8', f[i * 3]!, f[i * 3 + 1]!);
      row.push(raw === nul ? null : decodeTextField(out, f[i * 3]!, f[i * 3 + 1]!));
    }
    rows.push(row);
    p = nl + 1;
  }
  assert.equal(p, out.length, 'output ends with a complete row');
  return rows;
}

describe('COPY text format masking', () => {
  it("DELIMITER '@': an email split by escaped delimiters is still masked by column", () => {
    const r = run("COPY customers (id, email) TO STDOUT WITH (DELIMITER '@')", ID_EMAIL, [
      b('1@ada\\@example.com\n'),
      b('2@\\N\n'),
    ]);
    assert.deepEqual(leaks(r.all), []);
    const redacted = masker.redactColumnValue('ada@example.com');
    assert.notEqual(redacted, 'ada@example.com');
    assert.equal(r.all.toString(), `1@${redacted.replaceAll('@', '\\@')}\n2@\\N\n`);
    assert.deepEqual(parseText(r.all, '@'), [
      ['1', redacted],
      ['2', null],
    ]);
    assert.deepEqual(r.rows, [
      ['1', redacted],
      ['2', null],
    ]);
    assert.equal(r.rowCount, 2);
  });

  it("DELIMITER '-': an SSN written 123\\-45\\-6789 is masked", () => {
    const cols: Col[] = [
      ['id', OID.int4],
      ['ssn', OID.text],
    ];
    const r = run("COPY customers (id, ssn) TO STDOUT WITH (DELIMITER '-')", cols, [b('1-123\\-45\\-6789\n')]);
    assert.deepEqual(leaks(r.all), []);
    assert.deepEqual(parseText(r.all, '-'), [['1', masker.redactColumnValue('123-45-6789')]]);
  });

  it("DELIMITER '.': detectors run on the decoded value of an unmasked column", () => {
    const cols: Col[] = [
      ['id', OID.int4],
      ['notes', OID.text],
    ];
    const note = 'contact alan.t@bletchley.example for billing';
    const r = run("COPY customers (id, notes) TO STDOUT DELIMITER '.'", cols, [
      b(`2.${note.replaceAll('.', '\\.')}\n`),
    ]);
    assert.deepEqual(leaks(r.all), []);
    assert.deepEqual(parseText(r.all, '.'), [['2', masker.maskText(note)]]);
  });

  it('decodes backslash sequences (as PostgreSQL reads them) before masking, and re-escapes the result', () => {
    const cols: Col[] = [['notes', OID.text]];
    const value = 'tab\there\nnew ada@example.com \\ end\r\x0b\x08\x0c';
    const wire = encodeTextField(value, 9);
    assert.equal(wire.toString(), 'tab\\there\\nnew ada@example.com \\\\ end\\r\\v\\b\\f');
    const r = run('COPY customers (notes) TO STDOUT', cols, [Buffer.concat([wire, b('\n')])]);
    assert.deepEqual(leaks(r.all), []);
    assert.deepEqual(parseText(r.all, '\t'), [[masker.maskText(value)]]);
    // Octal and hex escapes are never written by the server but are read: no way around detection.
    const r2 = run('COPY customers (notes) TO STDOUT', cols, [b('\\141da\\x40example\\56com\n')]);
    assert.deepEqual(leaks(r2.all), []);
    assert.deepEqual(parseText(r2.all, '\t'), [[masker.maskText('ada@example.com')]]);
  });

  it('a tab-delimited row with every shop column masks all four sensitive ones', () => {
    const cols: Col[] = [
      ['id', OID.int4],
      ['name', OID.text],
      ['email', OID.text],
      ['phone', OID.text],
      ['ssn', OID.text],
      ['card_number', OID.text],
      ['notes', OID.text],
      ['created_at', OID.timestamptz],
    ];
    const line =
      '1\tAda Lovelace\tada@example.com\t+1 415 555 0132\t123-45-6789\t4111 1111 1111 1111\tprefers email\t2024-01-01 00:00:00+00\n';
    const r = run('COPY customers TO STDOUT', cols, [b(line)]);
    assert.deepEqual(leaks(r.all), []);
    const [row] = parseText(r.all, '\t');
    assert.equal(row?.[1], 'Ada Lovelace');
    assert.equal(row?.[6], 'prefers email');
    assert.equal(row?.[7], '2024-01-01 00:00:00+00');
  });

  it('a custom NULL string is kept as NULL in a masked column', () => {
    const r = run("COPY customers (id, email) TO STDOUT NULL 'NADA'", ID_EMAIL, [b('1\tNADA\n2\tada@example.com\n')]);
    assert.deepEqual(parseText(r.all, '\t', 'NADA'), [
      ['1', null],
      ['2', masker.redactColumnValue('ada@example.com')],
    ]);
    assert.deepEqual(leaks(r.all), []);
  });

  it("refuses a NULL string that is itself a detectable value (NULL 'x@y.com')", () => {
    const spec = specOf("COPY customers (id, email) TO STDOUT NULL 'ada@example.com'");
    assert.match(copyRefusal(spec, masker)!, /NULL string/);
    assert.throws(
      () => makeCopier("COPY customers (id, email) TO STDOUT NULL 'ada@example.com'", ID_EMAIL),
      (e: unknown) => e instanceof CopyMaskError && e.code === 'refused',
    );
    assert.equal(copyRefusal(spec, null), null, 'no masking, nothing to hide');
  });

  it('HEADER: the column-name line passes, is not counted or recorded', () => {
    const r = run("COPY customers (id, email) TO STDOUT (HEADER, DELIMITER '@')", ID_EMAIL, [
      b('id@email\n'),
      b('1@ada\\@example.com\n'),
    ]);
    assert.equal(r.all.toString().split('\n')[0], 'id@email');
    assert.equal(r.rowCount, 1);
    assert.equal(r.rows.length, 1);
    assert.deepEqual(leaks(r.all), []);
  });

  it('forwards a frame that needs no change as the same Buffer', () => {
    const copier = makeCopier('COPY customers (id, email) TO STDOUT', ID_EMAIL);
    const frame = frameOf(b('1\t\\N\n'));
    assert.equal(copier.data(frame, frame, 5, frame.length - 5), frame);
    const other = frameOf(b('2\tbob@example.com\n'));
    assert.notEqual(copier.data(other, other, 5, other.length - 5), other);
  });

  it('gives the same output however the payload is cut, one frame per message that completes rows', () => {
    const payload = b('1@ada\\@example.com\n2@\\N\n3@alan\\@example.org\n4@x\n');
    const whole = run("COPY customers (id, email) TO STDOUT (DELIMITER '@')", ID_EMAIL, [payload]);
    for (let i = 0; i <= payload.length; i++) {
      for (const j of [i, Math.min(payload.length, i + 3)]) {
        const r = run("COPY customers (id, email) TO STDOUT (DELIMITER '@')", ID_EMAIL, cut(payload, [i, j]));
        assert.equal(r.all.toString(), whole.all.toString(), `cut at ${i},${j}`);
        assert.equal(r.rowCount, 4);
      }
    }
    const bytes = run(
      "COPY customers (id, email) TO STDOUT (DELIMITER '@')",
      ID_EMAIL,
      [...payload].map((c) => Buffer.from([c])),
    );
    assert.equal(bytes.all.toString(), whole.all.toString());
    assert.equal(bytes.out.length, 4, 'one frame per completed row');
  });

  it('masks a last row sent without its newline', () => {
    const r = run('COPY customers (id, email) TO STDOUT', ID_EMAIL, [b('1\tada@exam'), b('ple.com')]);
    assert.deepEqual(leaks(r.all), []);
    assert.equal(r.rowCount, 1);
  });

  it('fails closed on a row with the wrong field count, then forwards nothing more', () => {
    const copier = makeCopier("COPY customers (id, email) TO STDOUT (DELIMITER '@')", ID_EMAIL);
    // An unescaped delimiter would mean the parse is off: never guess which field is the email.
    const bad = frameOf(b('1@ada@example.com\n'));
    assert.throws(
      () => copier.data(bad, bad, 5, bad.length - 5),
      (e: unknown) => e instanceof CopyMaskError && e.code === 'malformed' && e.sqlstate === '08P01',
    );
    assert.ok(copier.failed);
    const next = frameOf(b('2@x\n'));
    assert.equal(copier.data(next, next, 5, next.length - 5), null);
    assert.equal(copier.end(), null);
  });

  it('fails closed when a partial row outgrows the carry', () => {
    const copier = makeCopier('COPY customers (id, email) TO STDOUT', ID_EMAIL, { maxCarry: 1024 });
    const part = frameOf(Buffer.alloc(1025, 0x61));
    assert.throws(
      () => copier.data(part, part, 5, part.length - 5),
      (e: unknown) => e instanceof CopyMaskError && e.code === 'carry-overflow' && e.sqlstate === '54000',
    );
    // A complete row of any size in one message needs no carry.
    const big = frameOf(Buffer.concat([b('1\t'), Buffer.alloc(4096, 0x61), b('\n')]));
    const ok = makeCopier('COPY customers (id, email) TO STDOUT', ID_EMAIL, { maxCarry: 1024 });
    assert.ok(ok.data(big, big, 5, big.length - 5));
  });

  it('masks every value when the columns could not be described', () => {
    const cols: Col[] = [
      ['a', OID.text],
      ['b', OID.text],
    ];
    const r = run('COPY (SELECT a, b FROM somewhere) TO STDOUT', cols, [b('Ada Lovelace\tVIP\n')], { plan: 'none' });
    assert.deepEqual(parseText(r.all, '\t'), [
      [masker.redactColumnValue('Ada Lovelace'), masker.redactColumnValue('VIP')],
    ]);
  });

  it('with no masker, forwards the bytes and still records decoded rows (capped)', () => {
    const payload = b('1\tada@example.com\n2\t\\N\n3\tx\\ty\n');
    const r = run('COPY customers (id, email) TO STDOUT', ID_EMAIL, [payload], { noMasker: true, keepRows: 2 });
    assert.equal(r.all.toString(), payload.toString());
    assert.deepEqual(r.rows, [
      ['1', 'ada@example.com'],
      ['2', null],
    ]);
    assert.equal(r.rowCount, 3);
  });

  it('rejects a CopyOutResponse whose shape differs from the described columns', () => {
    const spec = specOf('COPY customers TO STDOUT');
    const plan = copyColumnPlan(spec, fieldsOf(ID_EMAIL), sourcesOf(ID_EMAIL), masker);
    const make = (overallFormat: number, n: number) => () =>
      new CopyOutMasker({
        spec,
        plan,
        masker,
        keepRows: 0,
        response: { overallFormat, columnFormats: new Array(n).fill(overallFormat) },
      });
    // e.g. `SELECT *` described a generated column that COPY leaves out.
    assert.throws(make(0, 3), (e: unknown) => e instanceof CopyMaskError && e.code === 'shape-mismatch');
    assert.throws(make(1, 2), (e: unknown) => e instanceof CopyMaskError && e.code === 'shape-mismatch');
    assert.ok(make(0, 2)());
    // A plan built for binary fields does not fit a text COPY.
    const binPlan = copyColumnPlan(
      specOf('COPY customers TO STDOUT BINARY'),
      fieldsOf(ID_EMAIL),
      sourcesOf(ID_EMAIL),
      masker,
    );
    assert.throws(
      () =>
        new CopyOutMasker({
          spec,
          plan: binPlan,
          masker,
          keepRows: 0,
          response: { overallFormat: 0, columnFormats: [0, 0] },
        }),
      /wrong format/,
    );
  });
});
