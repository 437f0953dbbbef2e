import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { DetectorName } from '../../../src/core/types.js';
import { detectorsFor } from '../../../src/masking/detectors/index.js';
import { compileMasker, DETECTOR_NAMES, MASKED_NON_TEXT, Masker } from '../../../src/masking/index.js';
import { MatchSet } from '../../../src/masking/matches.js';
import { H_PEM, scanBytes, scanString } from '../../../src/masking/scan.js';

/** Every detector run on the text, without the scan's pre-check. */
function maskUnguarded(text: string): string {
  const set = new MatchSet();
  set.reset(text);
  for (const d of detectorsFor(ALL)) d.find(text, 0x7fffffff, set);
  return set.apply();
}

const ALL: DetectorName[] = ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'];

describe('compileMasker', () => {
  it('returns the same instance for the same plan content, whatever the order and case', () => {
    const a = compileMasker({ columns: ['email', 'Customers.SSN'], detect: ['phone', 'email'] });
    const b = compileMasker({ columns: ['customers.ssn', 'email', 'email'], detect: ['email', 'phone'] });
    assert.ok(a instanceof Masker);
    assert.equal(a, b);
    assert.notEqual(a, compileMasker({ columns: ['email'], detect: ['email', 'phone'] }));
    assert.deepEqual(a.plan, { columns: ['customers.ssn', 'email'], detect: ['email', 'phone'] });
  });
  it('is inactive for an empty plan or null, and then changes nothing', () => {
    for (const m of [compileMasker({ columns: [], detect: [] }), compileMasker(null)]) {
      assert.equal(m.active, false);
      assert.equal(m.columnIsMasked(['email']), false);
      const text = 'ann@example.com';
      assert.equal(m.maskText(text), text);
      assert.equal(m.maskTextMaybe(Buffer.from(text)), null);
      const doc = { email: 'ann@example.com' };
      assert.equal(m.maskJson(doc), doc);
    }
    assert.equal(compileMasker({ columns: ['email'], detect: [] }).active, true);
    assert.equal(compileMasker({ columns: [], detect: ['iban'] }).active, true);
  });
  it('rejects an unknown detector name (caller misuse)', () => {
    assert.throws(() => compileMasker({ columns: [], detect: ['dna' as DetectorName] }), TypeError);
  });
  it('exposes every detector name and null for masked non-text values', () => {
    assert.deepEqual([...DETECTOR_NAMES].sort(), [...ALL].sort());
    assert.equal(MASKED_NON_TEXT, null);
    assert.equal(compileMasker({ columns: ['x'], detect: [] }).maskedNonText, null);
  });
});

describe('columnIsMasked', () => {
  const m = compileMasker({ columns: ['email', 'customers.ssn', 'billing.cards.number'], detect: [] });
  it('matches a bare configured column under any of its names', () => {
    assert.equal(m.columnIsMasked(['email']), true);
    assert.equal(m.columnIsMasked(['email', 'public.customers.email', 'customers.email']), true);
    assert.equal(m.columnIsMasked(['public.orders.email']), true);
  });
  it('matches a table-qualified column only in that table', () => {
    assert.equal(m.columnIsMasked(['ssn', 'public.customers.ssn', 'customers.ssn']), true);
    assert.equal(m.columnIsMasked(['public.customers.ssn']), true);
    assert.equal(m.columnIsMasked(['ssn', 'public.employees.ssn', 'employees.ssn']), false);
    assert.equal(m.columnIsMasked(['ssn']), false);
  });
  it('matches a schema-qualified column only in that schema', () => {
    assert.equal(m.columnIsMasked(['number', 'billing.cards.number', 'cards.number']), true);
    assert.equal(m.columnIsMasked(['number', 'public.cards.number', 'cards.number']), false);
  });
  it('does not match other columns or partial names', () => {
    assert.equal(m.columnIsMasked(['name', 'public.customers.name']), false);
    assert.equal(m.columnIsMasked(['email_verified', 'customers.email_verified']), false);
    assert.equal(m.columnIsMasked([]), false);
  });
});

describe('maskText', () => {
  const m = compileMasker({ columns: [], detect: ALL });
  it('returns the same string instance when nothing matched', () => {
    for (const text of ['', 'Alice Smith', '2024-01-15 10:23:45+00', 'password: null', 'x'.repeat(5000)]) {
      const copy = `${text}`;
      assert.equal(m.maskText(copy), copy);
      assert.ok(Object.is(m.maskText(copy), copy));
    }
  });
  it('returns a new string when something matched, and is idempotent', () => {
    const once = m.maskText('ann@example.com, token=abc');
    assert.equal(once, 'a***@example.com, token=[REDACTED:secret]');
    assert.equal(m.maskText(once), once);
  });
});

describe('redaction keeps the shape', () => {
  const m = compileMasker({ columns: [], detect: ALL });
  it('keeps the length and separators of digit values', () => {
    for (const text of ['4111-1111-1111-1111', '123-45-6789', '(415) 555-2671', 'DE89 3704 0044 0532 0130 00']) {
      const masked = m.maskText(text);
      assert.notEqual(masked, text);
      assert.equal(masked.length, text.length);
      assert.equal(masked.replace(/[0-9A-Z*]/g, '#'), text.replace(/[0-9A-Z*]/g, '#'));
    }
  });
  it('keeps a masked email a valid email', () => {
    assert.match(m.maskText('jane.roe@example.com'), /^[^@\s]+@example\.com$/);
  });
});

describe('redactColumnValue (masked by name)', () => {
  const m = compileMasker({ columns: ['email', 'ssn', 'phone', 'card', 'iban', 'name'], detect: [] });
  it('uses the detector-style partial when the whole value has a known shape', () => {
    assert.equal(m.redactColumnValue('jane.roe@example.com'), 'j***@example.com');
    assert.equal(m.redactColumnValue('123-45-6789'), '***-**-6789');
    assert.equal(m.redactColumnValue('123456789'), '*****6789');
    assert.equal(m.redactColumnValue('4111 1111 1111 1112'), '**** **** **** 1112');
    assert.equal(m.redactColumnValue('+1 415 555 2671'), '+* *** *** 2671');
    assert.equal(m.redactColumnValue('DE89370400440532013000'), 'DE****************3000');
  });
  it('uses *** for anything else and keeps the empty string', () => {
    assert.equal(m.redactColumnValue('Jane Roe'), '***');
    assert.equal(m.redactColumnValue('x'.repeat(300)), '***');
    assert.equal(m.redactColumnValue(''), '');
  });
  it('works on bytes', () => {
    assert.equal(m.redactColumnBytes(Buffer.from('xxJoséxx'), 2, 7).toString(), '***');
  });
});

describe('maskTextMaybe (UTF-8 bytes)', () => {
  const m = compileMasker({ columns: [], detect: ALL });
  it('returns null for clean cells, including multi-byte text', () => {
    for (const text of ['Alice', 'Ünïcødé 日本語 🎉', '2024-01-15', '']) {
      assert.equal(m.maskTextMaybe(Buffer.from(text)), null);
    }
  });
  it('masks only the cell range, with multi-byte characters around the match', () => {
    const cell = 'José 🎉 <jose@exämple.com> josé@example.com ☎ +33 6 12 34 56 78 日本';
    const row = Buffer.concat([Buffer.from('ann@example.com|'), Buffer.from(cell), Buffer.from('|4111111111111111')]);
    const start = Buffer.byteLength('ann@example.com|');
    const out = m.maskTextMaybe(row, start, start + Buffer.byteLength(cell));
    assert.ok(out);
    assert.equal(out.toString('utf8'), m.maskText(cell));
    assert.equal(out.toString('utf8'), 'José 🎉 <j***@exämple.com> j***@example.com ☎ +** * ** ** 56 78 日本');
  });
  it('bytes, strings and the unguarded detectors agree on many generated cells', () => {
    const parts = [...'aé日🎉 -.+()@:=410DExyJeKIA_'];
    const fixtures = ['ann@ex.com', '4111 1111 1111 1111', '123-45-6789', '+1 415 555 2671', '(415) 555-2671'];
    fixtures.push('030 1234 5678', 'DE89370400440532013000', 'pwd=x', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig');
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      let text = '';
      const len = rand(30);
      for (let j = 0; j < len; j++)
        text += rand(10) === 0 ? fixtures[rand(fixtures.length)] : parts[rand(parts.length)];
      const bytes = Buffer.from(text);
      assert.equal(scanBytes(bytes, 0, bytes.length), scanString(text), JSON.stringify(text));
      const out = m.maskTextMaybe(bytes, 0, bytes.length);
      const masked = m.maskText(text);
      assert.equal(out === null ? text : out.toString('utf8'), masked, JSON.stringify(text));
      assert.equal(masked, maskUnguarded(text), `the pre-check hid a match in ${JSON.stringify(text)}`);
    }
  });
  it('the dash flag means five dashes in a row, whatever the characters skipped between runs', () => {
    // The scan skips characters that change nothing outside a digit run; a dash count carried
    // over them would flag `-- ---` (a needless PEM regex run on every such cell).
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...'-- -a)(.é1+'.split('')), { maxLength: 30 }), (chars) => {
        const text = chars.join('');
        const expected = text.includes('-----');
        assert.equal((scanString(text) & H_PEM) !== 0, expected, JSON.stringify(text));
        const bytes = Buffer.from(text);
        assert.equal((scanBytes(bytes, 0, bytes.length) & H_PEM) !== 0, expected, JSON.stringify(text));
      }),
      { seed: 0x5eed_0022, numRuns: 20_000 },
    );
  });
  it('the byte scan sees only its cell: bytes before and after it change no flag', () => {
    // The scan reads the characters before a digit or a trigger back from the buffer (after
    // skipping the ones that change nothing): a cell's first bytes must not see the row's
    // bytes before it (`DE` + `89…` is an IBAN start only inside one cell, `bea` + `rer`, `ey`
    // + `J…` a token prefix only inside one).
    const parts = [...'aé日 -.+()@:=410DExyJeKIA_rR'];
    const around = ['DE8', 'bea', 'ey', 'gh', 'AKI', '+', '(', '0', '12345', 'pat', '-----', 'xox', ''];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...parts), { maxLength: 40 }),
        fc.constantFrom(...around),
        fc.constantFrom(...around),
        (chars, before, after) => {
          const text = chars.join('');
          const cell = Buffer.from(text);
          const row = Buffer.concat([Buffer.from(before), cell, Buffer.from(after)]);
          const start = Buffer.byteLength(before);
          assert.equal(
            scanBytes(row, start, start + cell.length),
            scanString(text),
            JSON.stringify([before, text, after]),
          );
        },
      ),
      { seed: 0x5eed_0021, numRuns: 20_000 },
    );
  });
});
