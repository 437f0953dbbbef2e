// jsonString (src/core/json-string.ts) is the text JSON.stringify gives for any string: every
// audit chain body, journal line and operation entry is built with it and hashed byte for byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonNumber, jsonString, jsonStringOrNull } from '../../../src/core/json-string.js';

test('every UTF-16 code unit, alone and between ASCII, quotes as JSON.stringify quotes it', () => {
  for (let c = 0; c < 0x10000; c++) {
    const s = String.fromCharCode(c);
    assert.equal(jsonString(s), JSON.stringify(s));
    assert.equal(jsonString(`select '${s}' -- x`), JSON.stringify(`select '${s}' -- x`));
  }
});

test('arbitrary strings (any code units, lone surrogates included) quote as JSON.stringify quotes them', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 50 }),
      (a, b) => {
        assert.equal(jsonString(a), JSON.stringify(a));
        assert.equal(jsonString(b + a), JSON.stringify(b + a));
      },
    ),
    { numRuns: 2000 },
  );
});

test('numbers (any double, -0, NaN, ±Infinity) and null strings as JSON.stringify writes them', () => {
  fc.assert(
    fc.property(fc.double(), fc.option(fc.string({ unit: 'binary', maxLength: 20 })), (n, s) => {
      assert.equal(jsonNumber(n), JSON.stringify(n));
      assert.equal(jsonStringOrNull(s), JSON.stringify(s));
    }),
    { numRuns: 2000 },
  );
  for (const n of [-0, 0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e21, 5e-324, 1765000000000])
    assert.equal(jsonNumber(n), JSON.stringify(n));
});
