import { redactPhone } from '../redact.js';
import { H_PHONE } from '../scan.js';
import type { Detector } from './types.js';

// Three shapes, each needing punctuation or a prefix, because bare digit runs are mostly ids:
//  - international: `+` or `00`, then 8–15 digits with single spaces, dots, dashes, parentheses;
//  - North American: `(415) 555-2671`, `415-555-2671`, `1 415.555.2671` (one separator kind);
//  - European national: trunk `0`, then groups split by one kind of separator, 9–12 digits
//    (`030 1234 5678`, `06 12 34 56 78`).
// A phone written with `+` or `(` is found whatever its neighbours (`'1' || phone`,
// `phone || '-'`, `(415) 555-26710`): the marker says what it is. A bare-digit or `00` form is never inside a longer
// number, a decimal, an IP address or a time (`…:30`), nor after `-` (order numbers), nor right
// after a letter; other letters and punctuation around it are neighbours. Years and dates have
// too few digits or the wrong grouping.
const PHONE =
  /(?:\+[1-9][\d ().-]{6,22}\d(?!\d)|(?<![\d_.+-])1[ .-]?\([2-9]\d{2}\) ?[2-9]\d{2}[ .-]\d{4}|\([2-9]\d{2}\) ?[2-9]\d{2}[ .-]\d{4}|(?<![\d_.+-])(?:00[1-9][\d ().-]{6,22}\d|(?:1[ .-]?)?[2-9]\d{2}([ .-])[2-9]\d{2}\1\d{4}|0[1-9]\d{0,4}([ .-])\d{2,8}(?:\2\d{2,8}){0,3})(?![\d_-]|[.:]\d))/g;
/** The same shape, matching a whole candidate (a run cut short at a separator). */
const PHONE_WHOLE = new RegExp(`^(?:${PHONE.source})$`);

const DOUBLE_SEPARATOR = /[ .-]{2}|\(\)|[.-][()]|[()][.-]/;

export const phoneDetector: Detector = {
  name: 'phone',
  guard: H_PHONE,
  find(text, _flags, out) {
    PHONE.lastIndex = 0;
    for (let m = PHONE.exec(text); m !== null; m = PHONE.exec(text)) {
      const s = m[0];
      // A bare-digit form glued to a letter is an identifier (`v1.415.555.2671`); with `+`, `00`
      // or `(` it is a phone whatever precedes it (`'x' || phone`).
      const first = s.charCodeAt(0);
      if (first !== 43 && first !== 40 && !s.startsWith('00') && isLetter(text.charCodeAt(m.index - 1))) {
        PHONE.lastIndex = m.index + 1;
        continue;
      }
      if (valid(s)) {
        out.add(m.index, m.index + s.length, redactPhone(s));
        continue;
      }
      // Phones joined by a space run together (`+31 20 344 1078 (986) 664-1401`): the longest
      // valid phone at this start, then look again right after it.
      const end = shorterPhone(s);
      if (end > 0) {
        out.add(m.index, m.index + end, redactPhone(s.slice(0, end)));
        PHONE.lastIndex = m.index + end;
      } else PHONE.lastIndex = m.index + 1;
    }
  },
};

/** Length of the longest valid phone that is a prefix of `s` ending before a space, or -1. */
function shorterPhone(s: string): number {
  for (let cut = s.lastIndexOf(' '); cut > 0; cut = s.lastIndexOf(' ', cut - 1)) {
    const candidate = s.slice(0, cut);
    if (PHONE_WHOLE.test(candidate) && valid(candidate)) return cut;
  }
  return -1;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function valid(s: string): boolean {
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  const first = s.charCodeAt(0);
  if (first === 43 /* + */ || s.startsWith('00')) {
    if (first !== 43) digits -= 2;
    return digits >= 8 && digits <= 15 && !DOUBLE_SEPARATOR.test(s);
  }
  if (first === 48 /* 0, European national */) return digits >= 9 && digits <= 12;
  return true;
}
