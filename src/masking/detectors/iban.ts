import { IBAN_LENGTHS, ibanChecksumValid } from '../checksums.js';
import { redactIban } from '../redact.js';
import { H_IBAN } from '../scan.js';
import type { Detector } from './types.js';

// Find a country code + check digits, then walk exactly the country's IBAN length of upper-case
// letters and digits (single spaces allowed, as in the printed form) and check mod-97.
const START = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?= ?[A-Z0-9])/g;

export const ibanDetector: Detector = {
  name: 'iban',
  guard: H_IBAN,
  find(text, _flags, out) {
    START.lastIndex = 0;
    for (let m = START.exec(text); m !== null; m = START.exec(text)) {
      const start = m.index;
      const length = IBAN_LENGTHS[text.slice(start, start + 2)];
      if (length === undefined) continue;
      let compact = '';
      let i = start;
      while (i < text.length && compact.length < length) {
        const c = text.charCodeAt(i);
        if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90)) {
          compact += text[i];
          i++;
        } else if (c === 32 && compact.length >= 4 && i + 1 < text.length && isAlnumUpper(text.charCodeAt(i + 1))) {
          i++;
        } else break;
      }
      if (compact.length !== length) continue;
      if (i < text.length && isWordChar(text.charCodeAt(i))) continue;
      if (!ibanChecksumValid(compact)) continue;
      out.add(start, i, redactIban(text.slice(start, i)));
      START.lastIndex = i;
    }
  },
};

function isAlnumUpper(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
