// SHORTEST_DETECTABLE_NUMBER lets the PostgreSQL adapter pass short int/float/numeric text cells
// without scanning them. These tests hold the claim behind it: no number PostgreSQL can print
// that is shorter than that matches any detector, so skipping the scan changes no result; and at
// that length a number can match (the bound is not looser than it needs to be).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileMasker, SHORTEST_DETECTABLE_NUMBER } from '../../../src/masking/index.js';
import { scanString } from '../../../src/masking/scan.js';

const all = compileMasker({ columns: [], detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'] });

// What int2/4/8, float4/8 and numeric text output is made of (`-12`, `0.5`, `1.5e+20`, `NaN`).
const NUMBER_CHARS = '0123456789-.+e'.split('');
const SPECIALS = ['NaN', 'Infinity', '-Infinity', '0', '-0', '1e+20', '1e-07', '-1.5e+300'];

describe('numbers shorter than SHORTEST_DETECTABLE_NUMBER', () => {
  it('every int, float and numeric shape below the bound is left alone, by every detector', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .array(fc.constantFrom(...NUMBER_CHARS), { maxLength: SHORTEST_DETECTABLE_NUMBER - 1 })
            .map((a) => a.join('')),
          fc.integer().map(String),
          fc.double().map(String),
          fc.constantFrom(...SPECIALS),
        ),
        (text) => {
          fc.pre(text.length < SHORTEST_DETECTABLE_NUMBER);
          assert.equal(all.maskText(text), text, `masked ${JSON.stringify(text)}`);
        },
      ),
      { seed: 0x5eed_0008, numRuns: 50_000 },
    );
  });

  it('exhaustively: every string of up to 7 digits, signs, points and exponents is left alone', () => {
    // Exhaustive over the digit positions: the digit values do not change which hints fire except
    // a leading 0 (a phone's lead), so 0 and 1 stand for all digits.
    const shapes = new Set<string>();
    const grow = (s: string) => {
      if (s.length >= SHORTEST_DETECTABLE_NUMBER) return;
      shapes.add(s);
      for (const c of ['0', '1', '-', '.', 'e', '+']) grow(s + c);
    };
    grow('');
    for (const s of shapes) assert.equal(all.maskText(s), s, `masked ${JSON.stringify(s)}`);
    assert.ok(shapes.size > 50_000);
  });

  it('the bound is tight: at that length a number (a leading 0 and 7 digits) passes the phone guard', () => {
    const hit = '0' + '1'.repeat(SHORTEST_DETECTABLE_NUMBER - 1);
    assert.notEqual(scanString(hit), 0);
  });
});
