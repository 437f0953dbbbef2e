import { redactPhone } from '../redact.js';
import { H_PHONE } from '../scan.js';
import type { Detector } from './types.js';

// Three shapes, each needing punctuation or a prefix, because bare digit runs are mostly ids:
//  - international: `+` or `00`, then 8–15 digits with single spaces, dots, dashes, parentheses;
//  - North American: `(415) 555-2671`, `415-555-2671`, `1 415.555.2671` (one separator kind);
//  - European national: trunk `0`, then groups split by one kind of separator, 9–12 digits
//    (`030 1234 5678`, `06 12 34 56 78`).
// Never inside a word, a longer number, a decimal, an IP address or a time (`…:30`); years and
// dates have too few digits or the wrong grouping.
const PHONE =
  /(?<![\w.+-])(?:(?:\+|00)[1-9][\d ().-]{6,22}\d|(?:1[ .-]?)?(?:\([2-9]\d{2}\) ?[2-9]\d{2}[ .-]|[2-9]\d{2}([ .-])[2-9]\d{2}\1)\d{4}|0[1-9]\d{0,4}([ .-])\d{2,8}(?:\2\d{2,8}){0,3})(?![\w-]|[.:]\d)/g;

const DOUBLE_SEPARATOR = /[ .-]{2}|\(\)|[.-][()]|[()][.-]/;

export const phoneDetector: Detector = {
  name: 'phone',
  guard: H_PHONE,
  find(text, _flags, out) {
    PHONE.lastIndex = 0;
    for (let m = PHONE.exec(text); m !== null; m = PHONE.exec(text)) {
      const s = m[0];
      if (valid(s)) out.add(m.index, m.index + s.length, redactPhone(s));
    }
  },
};

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
