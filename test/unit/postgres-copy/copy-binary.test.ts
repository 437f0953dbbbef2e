import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initAnalysis } from '../../../src/analysis/pg-parser.js';
import { CopyMaskError } from '../../../src/protocols/postgres/copy/index.js';
import { type Col, cut, frameOf, leaks, makeCopier, masker, OID, run } from './support.js';

before(() => initAnalysis());

const SIG = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function header(flags = 0, ext: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeInt32BE(flags, 0);
  h.writeInt32BE(ext.length, 4);
  return Buffer.concat([SIG, h, ext]);
}

function tuple(cells: (Buffer | null)[]): Buffer {
  const parts: Buffer[] = [int16(cells.length)];
  for (const c of cells) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(c === null ? -1 : c.length, 0);
    parts.push(len);
    if (c) parts.push(c);
  }
  return Buffer.concat(parts);
}

const int16 = (v: number) => {
  const x = Buffer.alloc(2);
  x.writeInt16BE(v, 0);
  return x;
};
const TRAILER = int16(-1);
const int4 = (v: number) => {
  const x = Buffer.alloc(4);
  x.writeInt32BE(v, 0);
  return x;
};
const int8 = (v: bigint) => {
  const x = Buffer.alloc(8);
  x.writeBigInt64BE(v, 0);
  return x;
};
const text = (s: string) => Buffer.from(s, 'utf8');
const jsonb = (s: string) => Buffer.concat([Buffer.from([1]), text(s)]);
const bool = (v: boolean) => Buffer.from([v ? 1 : 0]);
/** numeric from base-10000 digits. */
function numeric(digits: number[], weight: number, dscale: number, negative = false): Buffer {
  const x = Buffer.alloc(8 + digits.length * 2);
  x.writeInt16BE(digits.length, 0);
  x.writeInt16BE(weight, 2);
  x.writeUInt16BE(negative ? 0x4000 : 0, 4);
  x.writeInt16BE(dscale, 6);
  for (const [i, d] of digits.entries()) x.writeInt16BE(d, 8 + i * 2);
  return x;
}

/** Tuples of a binary COPY stream (asserting signature, header and trailer). */
function parseBinary(out: Buffer): { tuples: (Buffer | null)[][]; ext: Buffer } {
  assert.ok(out.subarray(0, 11).equals(SIG), 'signature');
  const extLen = out.readInt32BE(15);
  const ext = out.subarray(19, 19 + extLen);
  let p = 19 + extLen;
  const tuples: (Buffer | null)[][] = [];
  for (;;) {
    const n = out.readInt16BE(p);
    p += 2;
    if (n === -1) break;
    const cells: (Buffer | null)[] = [];
    for (let i = 0; i < n; i++) {
      const len = out.readInt32BE(p);
      p += 4;
      cells.push(len < 0 ? null : out.subarray(p, p + len));
      p += Math.max(len, 0);
    }
    tuples.push(cells);
  }
  assert.equal(p, out.length, 'nothing after the trailer');
  return { tuples, ext };
}

// Every type of the shop tables, with the masked columns by name (email, ssn, card_number) and
// detectable values hidden in unmasked ones (notes, amount, doc).
const COLS: Col[] = [
  ['id', OID.int4],
  ['name', OID.varchar],
  ['email', OID.text],
  ['ssn', OID.text],
  ['card_number', OID.int8],
  ['notes', OID.text],
  ['amount', OID.numeric],
  ['created_at', OID.timestamptz],
  ['vip', OID.bool],
  ['doc', OID.jsonb],
];
const SQL =
  'COPY (SELECT id, name, email, ssn, card_number, notes, amount, created_at, vip, doc FROM customers) TO STDOUT (FORMAT binary)';

const ADA = tuple([
  int4(1),
  text('Ada Lovelace'),
  text('ada@example.com'),
  text('123-45-6789'),
  int8(4111111111111111n),
  text('call +1 415 555 0132'),
  numeric([4111, 1111, 1111, 1111], 3, 0), // a card number stored as numeric
  int8(757382400000000n),
  bool(true),
  jsonb('{"contact": "alan@example.org", "tier": 2}'),
]);
const PLAIN = tuple([
  int4(2),
  text('Grace Hopper'),
  null,
  null,
  null,
  text('VIP'),
  numeric([12, 5000], 0, 2),
  int8(1n),
  bool(false),
  jsonb('{"tier": 1}'),
]);

describe('COPY binary format masking', () => {
  it('masks text fields to redacted text and other fields to NULL, keeping the stream valid', () => {
    const ext = Buffer.from('ext!');
    const r = run(SQL, COLS, [Buffer.concat([header(0, ext), ADA]), PLAIN, TRAILER]);
    assert.equal(r.out.length, 3, 'one frame per server message');
    const { tuples, ext: gotExt } = parseBinary(r.all);
    assert.ok(gotExt.equals(ext), 'header extension kept');
    assert.equal(tuples.length, 2);
    const [ada, plain] = tuples as [(Buffer | null)[], (Buffer | null)[]];
    assert.equal(ada[0]!.readInt32BE(0), 1);
    assert.equal(ada[1]!.toString(), 'Ada Lovelace');
    assert.equal(ada[2]!.toString(), masker.redactColumnValue('ada@example.com'));
    assert.equal(ada[3]!.toString(), masker.redactColumnValue('123-45-6789'));
    assert.equal(ada[4], null, 'masked int8 column becomes NULL');
    assert.equal(ada[5]!.toString(), masker.maskText('call +1 415 555 0132'));
    assert.equal(ada[6], null, 'numeric holding a card number becomes NULL');
    assert.ok(ada[7]!.equals(int8(757382400000000n)), 'timestamptz untouched');
    assert.ok(ada[8]!.equals(bool(true)));
    assert.equal(ada[9]![0], 1, 'jsonb keeps its version byte');
    assert.deepEqual(JSON.parse(ada[9]!.subarray(1).toString()), {
      contact: masker.maskText('alan@example.org'),
      tier: 2,
    });
    assert.deepEqual(leaks(r.all), []);
    assert.ok(!r.all.includes(int8(4111111111111111n)));
    // The untouched tuple is byte-identical.
    assert.ok(
      Buffer.concat([
        int16(10),
        ...plain.map((c) => (c === null ? int4(-1) : Buffer.concat([int4(c.length), c]))),
      ]).equals(PLAIN),
    );
    assert.deepEqual(r.rows[1], [
      '2',
      'Grace Hopper',
      null,
      null,
      null,
      'VIP',
      '12.50',
      '2000-01-01T00:00:00.000Z',
      'f',
      '{"tier": 1}',
    ]);
    assert.equal(r.rows[0]![4], null);
    assert.equal(r.rows[0]![7], '2024-01-01T00:00:00.000Z');
    assert.equal(r.rowCount, 2);
  });

  it('gives the same output however the stream is cut', () => {
    const stream = Buffer.concat([header(), ADA, PLAIN, ADA, TRAILER]);
    const whole = run(SQL, COLS, [stream]);
    for (let i = 0; i <= stream.length; i++) {
      const r = run(SQL, COLS, cut(stream, [i, Math.min(stream.length, i + 7)]));
      assert.ok(r.all.equals(whole.all), `cut at ${i}`);
      assert.equal(r.rowCount, 3);
    }
  });

  it('passes a stream that needs no masking through as the same frames', () => {
    const cols: Col[] = [
      ['id', OID.int4],
      ['vip', OID.bool],
    ];
    const copier = makeCopier('COPY t (id, vip) TO STDOUT BINARY', cols);
    const f1 = frameOf(Buffer.concat([header(), tuple([int4(1), bool(true)])]));
    const f2 = frameOf(TRAILER);
    assert.equal(copier.data(f1, f1, 5, f1.length - 5), f1);
    assert.equal(copier.data(f2, f2, 5, f2.length - 5), f2);
    assert.equal(copier.end(), null);
  });

  it('fails closed on OIDs, unknown critical flags, a bad signature, a wrong field count, a missing trailer', () => {
    const attempt = (payloads: Buffer[]) => () => run(SQL, COLS, payloads);
    const isMalformed = (e: unknown) => e instanceof CopyMaskError && e.code === 'malformed';
    assert.throws(attempt([Buffer.concat([header(1 << 16), ADA, TRAILER])]), isMalformed);
    assert.throws(attempt([Buffer.concat([header(1 << 20), ADA, TRAILER])]), isMalformed);
    assert.throws(attempt([Buffer.concat([text('PGCOPY\nX'), ADA])]), isMalformed);
    assert.throws(attempt([Buffer.concat([header(), tuple([int4(1)]), TRAILER])]), isMalformed);
    assert.throws(attempt([Buffer.concat([header(), ADA])]), isMalformed);
    assert.throws(attempt([Buffer.concat([header(), ADA.subarray(0, 20)])]), isMalformed);
    assert.throws(attempt([Buffer.concat([header(), TRAILER, ADA])]), isMalformed);
    // Flag bits below 16 are not critical.
    assert.doesNotThrow(attempt([Buffer.concat([header(1), ADA, TRAILER])]));
  });

  it('with no description, every field becomes NULL', () => {
    const r = run(SQL, COLS, [Buffer.concat([header(), ADA, TRAILER])], { plan: 'none' });
    assert.deepEqual(parseBinary(r.all).tuples, [new Array(COLS.length).fill(null)]);
  });
});
