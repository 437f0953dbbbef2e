// The streaming JSON masker gives exactly what maskJson gives on the parsed value, whatever the
// chunking; it rejects what is not JSON; it handles strings longer than its hold limit in pieces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileMasker } from '../../../src/masking/index.js';
import { JsonStreamError, JsonStreamMasker } from '../../../src/masking/json-stream.js';

const masker = compileMasker({
  columns: ['email', 'card_number', 'profile'],
  detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'],
});

function run(text: string | Buffer, size: number): string {
  const m = new JsonStreamMasker(masker);
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(m.push(buf.subarray(i, i + size)));
  parts.push(m.end());
  return Buffer.concat(parts).toString('utf8');
}

const DOCS: unknown[] = [
  {
    id: 1,
    email: 'ann@example.com',
    Email: 'X@y.io',
    note: 'mail bob@example.org now, SSN 123-45-6789',
    card_number: 4111111111111111,
    profile: { a: [1, { b: '}' }], c: '"]' },
    password: 'hunter2',
    token: 12345,
    api_key: '',
    nested: { 'k"ey': 'v\\u', list: [{ email: null }, { email: true }] },
    arr: [true, false, null, -1.5e3, 0, '4111 1111 1111 1111'],
    empty: {},
    ea: [],
    'bob@example.org': 1,
    unicode: 'é 😀 \n\t\u0001',
  },
  [],
  {},
  'plain 123-45-6789',
  42,
  null,
  [[[]], [{}], { a: [] }],
];

describe('JsonStreamMasker', () => {
  it('masks like maskJson, at every chunk size', () => {
    for (const doc of DOCS) {
      const text = JSON.stringify(doc, null, doc && typeof doc === 'object' ? 1 : undefined);
      const expected = JSON.stringify(masker.maskJson(doc));
      for (const size of [1, 2, 3, 5, 7, 64, 1 << 20]) {
        assert.deepEqual(JSON.parse(run(text, size)), JSON.parse(expected), `chunk size ${size}: ${text.slice(0, 40)}`);
      }
    }
  });

  it('passes unchanged bytes through as they are (whitespace and number spelling kept)', () => {
    const text = '{ "id" : 1.50E+2 ,\n "ok": [ true , null ] }';
    assert.equal(run(text, 3), text);
  });

  it('masks NDJSON and concatenated values', () => {
    const out = run('{"email":"a@b.co"}\n{"x":"c@d.io"}\n7 "e@f.io"\n', 4);
    assert.doesNotMatch(out, /a@b\.co|c@d\.io|e@f\.io/);
    assert.equal(out.split('\n').length, 4);
  });

  it('rejects what is not JSON', () => {
    for (const bad of ['{"a" 1}', '[1,]', '{"a":1', '{]', '{"a":1}}', '"abc', '{"a":"\u0001"}', '[1 2]', '{,}']) {
      assert.throws(() => run(bad, 2), JsonStreamError, bad);
    }
  });

  it('refuses nesting deeper than its limit', () => {
    assert.throws(() => run('['.repeat(5000), 100), /nested deeper/);
  });

  it('masks a string longer than its hold limit in pieces, values split across pieces included', () => {
    const big = `${'x '.repeat(700_000)}bob@example.org ${'y'.repeat(10)}`;
    const doc = { note: big, email: 'e'.repeat(2 * 1024 * 1024), k: 'v\\"é'.repeat(300_000) };
    const out = JSON.parse(run(JSON.stringify(doc), 65_536)) as { note: string; email: string; k: string };
    assert.ok(out.note.startsWith('x '.repeat(100_000)) && out.note.endsWith(` ${'y'.repeat(10)}`));
    assert.ok(Math.abs(out.note.length - big.length) < 8, 'only the email changed');
    assert.doesNotMatch(out.note, /bob@example\.org/);
    assert.equal(out.email, '***');
    assert.equal(out.k, doc.k, 'escapes survive being cut into pieces');
  });

  it('keeps memory bounded on a long array (nothing accumulates per element)', () => {
    const m = new JsonStreamMasker(masker);
    const item = Buffer.from('{"id":1,"email":"ann@example.com","note":"n"},');
    m.push(Buffer.from('['));
    const before = process.memoryUsage().heapUsed;
    let out = 0;
    for (let i = 0; i < 50_000; i++) out += m.push(item).length;
    m.push(Buffer.from('{}]'));
    m.end();
    assert.ok(out > 0);
    assert.ok(process.memoryUsage().heapUsed - before < 64 * 1024 * 1024);
  });
});
