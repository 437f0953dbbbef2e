// redactWholeInto (bytes, the bulk-result path) answers exactly what redactWhole (strings) does,
// or -1 where it defers to it: checked on the shapes it handles, their near misses, and random
// values over the characters the shapes are made of (fast-check, fixed seed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { redactWhole } from '../../../src/masking/redact.js';
import { redactWholeInto } from '../../../src/masking/redact-bytes.js';

function viaBytes(value: string): string | -1 {
  const src = Buffer.from(`xx${value}yy`, 'utf8'); // an offset and trailing bytes, as in a DataRow
  const n = src.length - 4;
  const dst = Buffer.alloc(n + 3 + 8, 0x21);
  const w = redactWholeInto(src, 2, n, dst, 4);
  if (w < 0) return -1;
  assert.ok(w <= n + 3, `wrote ${w} bytes for a ${n}-byte value`);
  assert.equal(dst[4 + w], 0x21, 'nothing written past the answer');
  return dst.toString('utf8', 4, 4 + w);
}

function same(value: string): void {
  const bytes = viaBytes(value);
  if (bytes === -1) {
    // Deferred only for what it does not handle: non-ASCII, or an upper-case first letter (IBAN).
    const t = value.trim();
    assert.ok(/[^\x00-\x7f]/.test(value) || /^[A-Z]/.test(t), `deferred ${JSON.stringify(value)}`);
    return;
  }
  assert.equal(bytes, redactWhole(value), JSON.stringify(value));
}

describe('redactWholeInto', () => {
  it('redacts the shapes as redactWhole does', () => {
    for (const v of [
      '',
      ' ',
      'john.doe@example.com',
      'a@example.com',
      ' user12@example.co.uk ',
      'user@x..com',
      'user@.com',
      'user@example.c',
      'user@exa_mple.com',
      'us er@example.com',
      'a@b@example.com',
      `${'l'.repeat(64)}@example.com`,
      `${'l'.repeat(65)}@x.io`,
      '123-45-6789',
      '123456789',
      '123-456-789',
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '4111  1111 1111 1111',
      '4111111111111111111',
      '41111111111111111111',
      '+1 415 555 0132',
      '(415) 555-0132',
      '555-0132',
      '12345',
      '+12',
      'hello',
      'x'.repeat(65),
      `  ${'1'.repeat(63)}  `,
      '\t415.555.0132\n',
      '-1',
      '.5551234',
    ])
      same(v);
  });

  it('defers non-ASCII values and IBAN-like ones to redactWhole', () => {
    assert.equal(viaBytes('jöhn@example.com'), -1);
    assert.equal(viaBytes('\u00a0123-45-6789'), -1);
    assert.equal(viaBytes('DE89 3704 0044 0532 0130 00'), -1);
  });

  it('agrees with redactWhole on random values', () => {
    const chars = fc.constantFrom(...'0123456789 -().+@._%abcxyzXQ\t'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 70 }), (a) => same(a.join(''))),
      { seed: 0x5eed_0014, numRuns: 20_000 },
    );
    const email = fc.tuple(
      fc.stringMatching(/^[a-z0-9._%+-]{1,66}$/),
      fc.stringMatching(/^[a-z0-9.-]{0,8}$/),
      fc.stringMatching(/^[a-z]{0,4}$/),
    );
    fc.assert(
      fc.property(email, ([l, d, t]) => same(`${l}@${d}.${t}`)),
      { seed: 0x5eed_0015, numRuns: 5_000 },
    );
  });
});
