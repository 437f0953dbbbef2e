import { luhnValid } from '../checksums.js';
import { redactDigits } from '../redact.js';
import { H_DIGITS13 } from '../scan.js';
import type { Detector } from './types.js';

// 13–19 digits starting with a card-network digit (2–6), single spaces or dashes allowed between
// digits, not part of a longer number or a decimal. Validation: one kind of separator, Luhn.
const CARD = /(?<![\d.])[2-6](?:[ -]?\d){12,18}(?!\d|[.,]\d)/g;

export const cardDetector: Detector = {
  name: 'credit_card',
  guard: H_DIGITS13,
  find(text, _flags, out) {
    CARD.lastIndex = 0;
    for (let m = CARD.exec(text); m !== null; m = CARD.exec(text)) {
      const start = m.index;
      const end = validCardEnd(text, start, start + m[0].length);
      if (end > 0) out.add(start, end, redactDigits(text.slice(start, end), 4));
    }
  },
};

/**
 * End of the valid card in `text[start, end)`, or -1. When the whole run fails Luhn but is
 * grouped (`4111 1111 1111 1111 22`), shorter runs ending at a group boundary are tried.
 */
function validCardEnd(text: string, start: number, end: number): number {
  let sep = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 45) {
      if (sep === 0) sep = c;
      else if (sep !== c) return -1;
    }
  }
  if (luhnValid(text, start, end)) return end;
  if (sep === 0) return -1;
  for (let cut = text.lastIndexOf(String.fromCharCode(sep), end - 1); cut > start; ) {
    if (countDigits(text, start, cut) < 13) break;
    if (luhnValid(text, start, cut)) return cut;
    cut = text.lastIndexOf(String.fromCharCode(sep), cut - 1);
  }
  return -1;
}

function countDigits(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}
