// Text shown to a person (CLI tables and `show`, Slack messages, a console) must not be able to
// lie about itself: a statement like `delete … /* ESC[2K CR  operation  sql: select 1 */` would
// otherwise erase its own line in a terminal. `displayText` makes every character that can move
// the cursor, erase, reorder (bidi) or hide text visible as an escape; the exact text stays
// available as data (`--json`, JSON webhook fields), never changed.
//
// Escapes: `\n` `\t` `\r` for those three, `\xHH` for other C0, DEL and C1, `\uHHHH` for bidi
// controls, zero-width and other invisible characters (soft hyphen, invisible operators,
// interlinear annotations), U+2028/U+2029 and lone surrogates, `\u{HHHHH}` for the invisible tag
// characters (U+E0000–U+E007F). A literal backslash is doubled when what follows it could be read
// as an escape (another backslash, an escaped character, or `n`, `t`, `r`, `xHH`, `uHHHH`,
// `u{…}`), so the output reads back unambiguously
// (`readDisplayText`), while ordinary backslashes (`E'a\\b'`, regexes) are left as they are.
// Not idempotent, on purpose: escaping the escaped text again shows `\\x1b`, never ESC.

/** Characters that are escaped; the `u` flag makes lone surrogates match as themselves. */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]|\p{Surrogate}/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');
/** What after a backslash would read as an escape. */
const ESCAPE_LIKE = /^(?:[\\ntr]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|u\{[0-9a-fA-F]{1,6}\})/;

const NAMED: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.codePointAt(0) as number;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

/** True when `s` holds a character `displayText` would escape (a backslash alone is not one). */
export function hasUnsafeText(s: string): boolean {
  return UNSAFE.test(s);
}

/** One line of safe text: every unsafe character escaped, newlines included (table cells, one-line summaries). */
export function displayText(s: string): string {
  if (!UNSAFE.test(s) && !s.includes('\\')) return s;
  let out = '';
  // Iterating by code point keeps surrogate pairs (emoji) whole and yields lone surrogates alone.
  const chars = Array.from(s);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\') {
      const next = chars[i + 1];
      const rest = chars.slice(i + 1, i + 10).join('');
      out += next !== undefined && (UNSAFE.test(next) || ESCAPE_LIKE.test(rest)) ? '\\\\' : '\\';
    } else if (UNSAFE.test(c)) {
      out += escapeChar(c);
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Multi-line text as safe lines, for `show` output that keeps the shape of a long statement: split
 * at LF only (a CR, CRLF's included, is shown as `\r`), each line escaped like `displayText`.
 * Callers must prefix every line (a gutter such as `| `), so no line of the text can pass for a line
 * of the surrounding output.
 */
export function displayLines(s: string): string[] {
  return s.split('\n').map(displayText);
}

/**
 * `JSON.stringify` that is also safe to show: JSON already escapes C0 and lone surrogates; the
 * other unsafe characters (DEL, C1, bidi, zero-width, U+2028/U+2029) become `\uHHHH` JSON escapes,
 * so the output is still valid JSON of the same value.
 */
export function displayJson(value: unknown): string {
  const json = JSON.stringify(value) ?? 'undefined';
  // A tag character (astral) becomes its two surrogate escapes, as JSON spells astral characters.
  return json.replace(UNSAFE_ALL, (c) =>
    Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** The exact text back from `displayText` output (tests, and anyone who must recover the data from a display). */
export function readDisplayText(shown: string): string {
  return shown.replace(
    /\\(?:([\\ntr])|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|u\{([0-9a-fA-F]{1,6})\})/g,
    (_m, named?: string, x?: string, u?: string, astral?: string) => {
      if (named) return named === 'n' ? '\n' : named === 't' ? '\t' : named === 'r' ? '\r' : '\\';
      if (astral) {
        const code = Number.parseInt(astral, 16);
        return code <= 0x10ffff ? String.fromCodePoint(code) : _m;
      }
      return String.fromCharCode(Number.parseInt((x ?? u) as string, 16));
    },
  );
}
