// CommandTags (src/protocols/postgres/wire/backend.ts) gives exactly what parseCommandComplete
// gives — the same text, or the same refusal — whatever tags came before it in the session.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CommandTags, parseCommandComplete } from '../../../src/protocols/postgres/wire/index.js';

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
      const tags = new CommandTags();
      for (const p of payloads) {
        const expected = parse(parseCommandComplete, p);
        const got = parse((b, s, n) => tags.read(b, s, n), p);
        if (expected instanceof Error) {
          assert.ok(got instanceof Error, `refused as the plain parse refuses (${p.toString('hex')})`);
          assert.equal(got.message, expected.message);
          continue;
        }
        assert.equal(got, expected);
      }
    }),
    { numRuns: 2000 },
  );
  // A repeated ASCII tag is the kept string itself; one with a byte that decodes to U+FFFD is
  // decoded again each time, and a different tag after it is not mistaken for it.
  const tags = new CommandTags();
  const read = (p: Buffer) => parse((b, s, n) => tags.read(b, s, n), p);
  const first = read(Buffer.from('SELECT 1\0'));
  assert.equal(first, 'SELECT 1');
  assert.equal(read(Buffer.from('SELECT 1\0')), first);
  const kept = read(Buffer.from('SELECT \xff\0', 'latin1'));
  assert.equal(kept, 'SELECT \ufffd');
  assert.equal(read(Buffer.from('SELECT \xff\0', 'latin1')), kept);
  assert.equal(read(Buffer.from('SELECT 2\0')), 'SELECT 2');
});
