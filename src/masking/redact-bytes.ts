// redactWhole (redact.ts) over UTF-8 bytes, written straight into the caller's buffer: a masked
// column's value in a large result (`email`, `phone` on every row) is redacted without decoding
// it to a string, running the shape regexes and encoding the result again — the per-row cost of
// a masked bulk read. Only the ASCII values with the common shapes (email, SSN, card, phone, and
// anything else, which becomes `***`) are handled here; a value with a byte >= 0x80 (where
// trim() and the regexes see characters, not bytes) or an upper-case first letter (IBAN) answers
// -1 and takes redactWhole. test/unit/masking/redact-bytes.test.ts holds the two equal.
import { REDACTED } from './redact.js';

const LOCAL = 1; // [A-Za-z0-9._%+-]
const DOMAIN = 2; // [A-Za-z0-9.-]
const LETTER = 4; // [A-Za-z]
const PHONE = 8; // [\d ().-]
const SPACE = 16; // what trim() removes, in ASCII
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9._%+-]/.test(ch)) CLASS[c]! |= LOCAL;
  if (/[A-Za-z0-9.-]/.test(ch)) CLASS[c]! |= DOMAIN;
  if (/[A-Za-z]/.test(ch)) CLASS[c]! |= LETTER;
  if (/[\d ().-]/.test(ch)) CLASS[c]! |= PHONE;
  if (ch.trim() === '') CLASS[c]! |= SPACE;
}

/**
 * Writes what redactWhole gives for the UTF-8 value `src[start, start + n)` at `dst[o]` and
 * returns its length in bytes, or -1 when the value must take redactWhole instead. `dst` needs
 * room for `n + 3` bytes from `o`.
 */
export function redactWholeInto(src: Uint8Array, start: number, n: number, dst: Uint8Array, o: number): number {
  if (n === 0) return 0;
  let s = start;
  let e = start + n;
  // Trimmed first (what trim() removes is ASCII whitespace: a byte >= 0x80 stops it, its CLASS
  // entry being undefined), then one pass over the rest for what every shape needs: ASCII only,
  // the '@', the digits, and the character classes the email and phone shapes check, ANDed over
  // their parts (before the first '@', after it, after the last dot after it; all but the first
  // byte), so no shape walks the value again to check them.
  if (n <= 64) {
    while (s < e && (CLASS[src[s]!]! & SPACE) !== 0) s++;
    while (e > s && (CLASS[src[e - 1]!]! & SPACE) !== 0) e--;
  }
  let at = -1;
  let dot = -1;
  let digits = 0;
  let local = 0xff;
  let domain = 0xff;
  let tld = 0xff;
  let rest = 0xff;
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    if (c >= 0x80) return -1;
    const k = CLASS[c]!;
    if (i !== s) rest &= k;
    if (c >= 48 && c <= 57) digits++;
    if (at < 0) {
      if (c === 64) at = i;
      else local &= k;
    } else {
      domain &= k;
      if (c === 46) {
        dot = i;
        tld = 0xff;
      } else tld &= k;
    }
  }
  if (e - s > 64) return writeRedacted(dst, o);
  if (e === s) return writeRedacted(dst, o);
  const c0 = src[s]!;
  if (at >= 0) {
    const w = emailInto(src, s, at, dot, e, local & LOCAL, domain & DOMAIN, tld & LETTER, dst, o);
    if (w >= 0) return w;
  }
  const digit0 = c0 >= 48 && c0 <= 57;
  if (digit0 && (isSsn(src, s, e) || isCard(src, s, e, digits))) return digitsInto(src, s, e, digits - 4, dst, o);
  if (c0 >= 65 && c0 <= 90) return -1; // maybe an IBAN: redactWhole
  if (digit0 || c0 === 43 || c0 === 40 || c0 === 41 || c0 === 46 || c0 === 45) {
    if (digits >= 7 && digits <= 15 && isPhone(c0, e - s, rest))
      return digitsInto(src, s, e, digits - (digits >= 10 ? 4 : 2), dst, o);
  }
  return writeRedacted(dst, o);
}

function writeRedacted(dst: Uint8Array, o: number): number {
  for (let i = 0; i < REDACTED.length; i++) dst[o + i] = REDACTED.charCodeAt(i);
  return REDACTED.length;
}

/**
 * WHOLE_EMAIL: `local@domain.tld`; writes `l***@domain.tld` (`***@…` for a one-character local
 * part). `localOk`: every byte before `at` is LOCAL; `domainOk`: every byte after it is DOMAIN;
 * `tldOk`: every byte after the last dot `dot` is a letter.
 */
function emailInto(
  src: Uint8Array,
  s: number,
  at: number,
  dot: number,
  e: number,
  localOk: number,
  domainOk: number,
  tldOk: number,
  dst: Uint8Array,
  o: number,
): number {
  const local = at - s;
  if (local < 1 || local > 64 || localOk === 0 || domainOk === 0) return -1;
  // At least one character between '@' and the last dot, then 2–63 letters to the end.
  const tld = e - dot - 1;
  if (dot < at + 2 || tld < 2 || tld > 63 || tldOk === 0) return -1;
  let w = o;
  if (local > 1) dst[w++] = src[s]!;
  dst[w++] = 42;
  dst[w++] = 42;
  dst[w++] = 42;
  for (let i = at; i < e; i++) dst[w++] = src[i]!;
  return w - o;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** WHOLE_SSN: `ddd-dd-dddd` or nine digits. */
function isSsn(src: Uint8Array, s: number, e: number): boolean {
  const n = e - s;
  if (n === 9) {
    for (let i = s; i < e; i++) if (!isDigit(src[i]!)) return false;
    return true;
  }
  if (n !== 11 || src[s + 3] !== 45 || src[s + 6] !== 45) return false;
  for (let i = s; i < e; i++) if (i !== s + 3 && i !== s + 6 && !isDigit(src[i]!)) return false;
  return true;
}

/** WHOLE_CARD: 13–19 digits (counted by the caller), a single space or dash allowed between two digits. */
function isCard(src: Uint8Array, s: number, e: number, digits: number): boolean {
  if (digits < 13 || digits > 19 || !isDigit(src[e - 1]!)) return false;
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    if (!isDigit(c) && ((c !== 32 && c !== 45) || !isDigit(src[i + 1] ?? 0))) return false;
  }
  return true;
}

/** WHOLE_PHONE: `+?[\d ().-]{7,24}`, from the value's first byte, its length and the AND of the others' classes. */
function isPhone(c0: number, len: number, rest: number): boolean {
  const plus = c0 === 43 ? 1 : 0;
  const body = len - plus;
  return body >= 7 && body <= 24 && (rest & PHONE) !== 0 && (plus === 1 || (CLASS[c0]! & PHONE) !== 0);
}

/** redactDigits: the first `hide` digits become `*`. */
function digitsInto(src: Uint8Array, s: number, e: number, hide: number, dst: Uint8Array, o: number): number {
  let w = o;
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    if (hide > 0 && isDigit(c)) {
      dst[w++] = 42;
      hide--;
    } else dst[w++] = c;
  }
  return w - o;
}
