// parseCommandCompleteAgain (src/protocols/postgres/wire/backend.ts) gives exactly what
// parseCommandComplete gives — the same text, or the same refusal — whatever the previous tag was,
// when that previous tag is kept under the server pump's rule (only tags of one byte per character).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseCommandComplete, parseCommandCompleteAgain } from '../../../src/protocols/postgres/wire/index.js';

function parse(f: (b: Buffer, s: number, n: number) => string, payload: Buffer): string | Error {
  // Framed as in a stream: a header before the payload, other bytes after it.
  const buf = Buffer.concat([Buffer.from([0x43, 0, 0, 0, payload.length + 4]), payload, Buffer.from('D\0')]);
  try {
    return f(buf, 5, payload.length);
  } catch (e) {
    return e as Error;
  }
}

const tagBytes = fc.oneof(
  fc
    .constantFrom('SELECT 1', 'SELECT 10', 'INSERT 0 1', 'UPDATE 3', 'BEGIN', 'COMMIT', '')
    .map((t) => Buffer.from(`${t}\0`)),
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
  fc.string({ unit: 'grapheme', maxLength: 8 }).map((t) => Buffer.from(`${t}\0`)),
);

test('the same tag text (or the same refusal) as parseCommandComplete, after any kept tag', () => {
  fc.assert(
    fc.property(fc.array(tagBytes, { minLength: 1, maxLength: 12 }), (payloads) => {
      let last = '';
      for (const p of payloads) {
        const expected = parse(parseCommandComplete, p);
        const got = parse((b, s, n) => parseCommandCompleteAgain(b, s, n, last), p);
        if (expected instanceof Error) {
          assert.ok(got instanceof Error, `refused as the plain parse refuses (${p.toString('hex')})`);
          assert.equal(got.message, expected.message);
          continue;
        }
        assert.equal(got, expected);
        if (got.length + 1 === p.length) last = got;
      }
    }),
    { numRuns: 2000 },
  );
  // A kept tag is returned itself; a byte that decodes to U+FFFD never matches it.
  const kept = parse(parseCommandComplete, Buffer.from('SELECT \xff\0', 'latin1')) as string;
  assert.equal(kept, 'SELECT \ufffd');
  assert.equal(
    parse((b, s, n) => parseCommandCompleteAgain(b, s, n, kept), Buffer.from('SELECT \xff\0', 'latin1')),
    kept,
  );
  assert.equal(
    parse((b, s, n) => parseCommandCompleteAgain(b, s, n, 'SELECT 1'), Buffer.from('SELECT 1\0')),
    'SELECT 1',
  );
});
