import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  displayJson,
  displayLines,
  displayText,
  hasUnsafeText,
  readDisplayText,
} from '../../../src/core/display-text.js';

/** Every character displayText must never let through raw, by class. */
const CLASSES: Record<string, number[]> = {
  c0: Array.from({ length: 0x20 }, (_, i) => i),
  del: [0x7f],
  c1: Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
  bidi: [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c],
  zeroWidth: [0x200b, 0x200c, 0x200d, 0x2060, 0xfeff],
  separators: [0x2028, 0x2029],
  invisible: [0x00ad, 0x2061, 0x2062, 0x2063, 0x2064, 0xfff9, 0xfffa, 0xfffb],
  loneSurrogates: [0xd800, 0xdbff, 0xdc00, 0xdfff],
};

/** A display is safe when it holds nothing but printable text. */
function assertSafe(shown: string, what: string): void {
  const bad = Array.from(shown).find((c) => hasUnsafeText(c));
  assert.equal(bad, undefined, `${what}: raw U+${bad?.codePointAt(0)?.toString(16)} in ${JSON.stringify(shown)}`);
}

describe('displayText', () => {
  it('escapes every character of every class visibly, and reads back exactly', () => {
    for (const [cls, codes] of Object.entries(CLASSES)) {
      for (const code of codes) {
        const raw = `a${String.fromCharCode(code)}b`;
        const shown = displayText(raw);
        assertSafe(shown, cls);
        assert.notEqual(shown, raw, `${cls} U+${code.toString(16)} is escaped`);
        assert.match(shown, /^a\\(?:[ntr]|x[0-9a-f]{2}|u[0-9a-f]{4})b$/, `${cls}: ${shown}`);
        assert.equal(readDisplayText(shown), raw, `${cls} U+${code.toString(16)} reads back`);
      }
    }
  });

  it('uses the familiar spellings', () => {
    assert.equal(displayText('\x1b[2K\r'), '\\x1b[2K\\r');
    assert.equal(displayText('a\nb\tc'), 'a\\nb\\tc');
    assert.equal(displayText('\x00\x7f\x85\x9b'), '\\x00\\x7f\\x85\\x9b');
    assert.equal(displayText('\u202eevil\u202c'), '\\u202eevil\\u202c');
    assert.equal(displayText('x\u200by\ufeff'), 'x\\u200by\\ufeff');
    assert.equal(displayText('\u2028\u2029'), '\\u2028\\u2029');
    assert.equal(displayText('\ud800'), '\\ud800');
    assert.equal(displayText('\u{e0041}'), '\\u{e0041}', 'invisible tag characters');
  });

  it('the attack statement from the issue shows its erase and carriage return', () => {
    const sql = 'delete from audit_notes /* \x1b[2K\r  operation  sql: select 1 */';
    const shown = displayText(sql);
    assert.equal(shown, 'delete from audit_notes /* \\x1b[2K\\r  operation  sql: select 1 */');
    assert.equal(readDisplayText(shown), sql);
  });

  it('leaves plain ASCII, letters of any script, combining marks and emoji alone', () => {
    for (const s of [
      'select * from customers where id = 1 -- ok',
      '~!@#$%^&*()_+{}|:"<>?`-=[];\',./ ',
      'Grüße, Ωμέγα, Привет, 日本語, עברית, العربية, हिन्दी',
      'e\u0301 (combining acute)',
      '👩‍👩‍👧 🏳️‍🌈 👍🏽 🇫🇷',
      '\u00a0nbsp and\u3000ideographic space',
    ]) {
      if (s.includes('‍')) {
        // ZWJ sequences are emoji glued by U+200D, a zero-width character: it is shown, the emoji are kept.
        const shown = displayText(s);
        assert.ok(shown.includes('👩') && shown.includes('\\u200d'));
        assert.equal(readDisplayText(shown), s);
        continue;
      }
      assert.equal(displayText(s), s, s);
    }
  });

  it('a literal backslash is doubled only where it could be read as an escape', () => {
    // Ordinary backslashes (regexes, E'' strings, Windows paths) stay as they are.
    for (const s of ["E'a\\b'", 'C:\\Users\\me', '\\d+\\s*', 'end\\']) assert.equal(displayText(s), s);
    // A backslash that would make the display ambiguous is doubled.
    assert.equal(displayText('\\x1b'), '\\\\x1b', 'the text "\\x1b" is not ESC');
    assert.equal(displayText('\\u202e'), '\\\\u202e');
    assert.equal(displayText('\\n'), '\\\\n');
    assert.equal(displayText('\\\\'), '\\\\\\', 'the first of two backslashes is doubled');
    assert.equal(displayText('\\\x1b'), '\\\\\\x1b', 'a backslash before an escaped character');
    assert.equal(displayText('\\u{41}'), '\\\\u{41}');
  });

  it('the display is unambiguous: different texts never show the same (reads back exactly)', () => {
    const pieces = ['\\', 'x', '1', 'b', 'n', 'u', '2', '0', '\x1b', '\n', '\u202e', 'a', '{', '}', '\ud800', '😀'];
    // Every string of up to 4 pieces (16^4 = 65536 strings).
    const seen = new Map<string, string>();
    const walk = (prefix: string, depth: number) => {
      const shown = displayText(prefix);
      assertSafe(shown, JSON.stringify(prefix));
      assert.equal(readDisplayText(shown), prefix, `reads back ${JSON.stringify(prefix)} from ${shown}`);
      const other = seen.get(shown);
      assert.ok(
        other === undefined || other === prefix,
        `${JSON.stringify(prefix)} and ${JSON.stringify(other)} both show as ${shown}`,
      );
      seen.set(shown, prefix);
      if (depth === 0) return;
      for (const p of pieces) walk(prefix + p, depth - 1);
    };
    walk('', 4);
  });

  it('escaping twice is safe: still no raw character, and it shows the first escaping exactly', () => {
    const raw = 'drop \x1b[2J table \u202eelbat\u202c \\x1b \\\x07 \ud83d';
    const once = displayText(raw);
    const twice = displayText(once);
    assertSafe(once, 'once');
    assertSafe(twice, 'twice');
    assert.notEqual(twice, once, 'a second escaping is visible, never collapses back to a control character');
    assert.equal(readDisplayText(twice), once);
    assert.equal(readDisplayText(readDisplayText(twice)), raw);
    // On text that needed no escaping, escaping is the identity (and so idempotent).
    const plain = 'select 1; -- Grüße 👍';
    assert.equal(displayText(displayText(plain)), plain);
  });

  it('random strings: always safe, always read back', () => {
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 2000; n++) {
      let s = '';
      const len = rnd() % 24;
      for (let i = 0; i < len; i++) {
        const r = rnd() % 10;
        s += r < 3 ? '\\' : r < 5 ? 'xu{}n01bfe'[rnd() % 10] : String.fromCharCode(rnd() % 0x10000);
      }
      const shown = displayText(s);
      assertSafe(shown, JSON.stringify(s));
      assert.equal(readDisplayText(shown), s, JSON.stringify(s));
    }
  });
});

describe('displayLines', () => {
  it('splits at LF only and escapes each line (CR shows, so CRLF cannot rewrite a line)', () => {
    assert.deepEqual(displayLines('select 1\r\nfrom t\n/* \x1b[2K */'), ['select 1\\r', 'from t', '/* \\x1b[2K */']);
    assert.deepEqual(displayLines('one line'), ['one line']);
    assert.deepEqual(displayLines('a\u2028b'), ['a\\u2028b'], 'U+2028 is not a line break here, it is shown');
  });
});

describe('displayJson', () => {
  it('is valid JSON of the same value with nothing raw in it', () => {
    const value = { text: 'a\x1b[2K\u202e\u200b\u2028\x7f\x85\ud800\u{e0041}', n: 1, list: ['é', '👍'] };
    const shown = displayJson(value);
    assertSafe(shown, 'json');
    assert.deepEqual(JSON.parse(shown), value);
    assert.equal(displayJson({ a: 'plain' }), '{"a":"plain"}');
  });
});
