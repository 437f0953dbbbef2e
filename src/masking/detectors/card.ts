import { luhnValid } from '../checksums.js';
import { redactDigits } from '../redact.js';
import { H_DIGITS13 } from '../scan.js';
import type { Detector } from './types.js';

// 13–19 digits starting with a card-network digit (2–6), single spaces or dashes allowed between
// digits, not part of a longer number or a decimal (`0.4111…`, `…1111.25`, `…1111,5`). Any other
// neighbour is a delimiter: a comma, semicolon, bracket, quote, tab or letter, so a list of cards
// (`string_agg(card, ',')`) is found card by card. Validation: one kind of separator, Luhn.
const CARD = /(?<!\d|\d\.)[2-6](?:[ -]?\d){12,18}(?!\d|[.,]\d{1,2}(?!\d))/g;

export const cardDetector: Detector = {
  name: 'credit_card',
  guard: H_DIGITS13,
  find(text, _flags, out) {
    CARD.lastIndex = 0;
    for (let m = CARD.exec(text); m !== null; m = CARD.exec(text)) {
      const start = m.index;
      const runEnd = start + m[0].length;
      const end = validCardEnd(text, start, runEnd);
      if (end > 0) {
        out.add(start, end, redactDigits(text.slice(start, end), 4));
        CARD.lastIndex = end;
      } else {
        // Cards joined by a space run together: look again from the next digit group.
        CARD.lastIndex = nextGroup(text, start, runEnd);
      }
    }
  },
};

/**
 * End of the longest valid card at `start` within the run `text[start, end)`, or -1: the whole
 * run, else shorter runs ending at a group boundary (`4111 1111 1111 1111 22`, two cards joined by
 * a space), each with one kind of separator and a valid Luhn digit.
 */
function validCardEnd(text: string, start: number, end: number): number {
  for (let cut = end; cut > start; cut = lastSeparator(text, start, cut)) {
    const digits = countDigits(text, start, cut);
    if (digits < 13) break;
    if (digits <= 19 && printedGrouping(text, start, cut) && luhnValid(text, start, cut)) return cut;
  }
  return -1;
}

/** The index of the last separator before `end` (after `start`), or `start`. */
function lastSeparator(text: string, start: number, end: number): number {
  for (let i = end - 1; i > start; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 45) return i;
  }
  return start;
}

/**
 * One kind of separator, grouped as cards are printed: no separators, groups of four with a
 * shorter last group, or 4-6-5 / 4-6-4 (American Express, Diners). So `3442 0370 3043 542 4689`
 * is a 15-digit card and a group, not one 19-digit card.
 */
function printedGrouping(text: string, start: number, end: number): boolean {
  let sep = 0;
  const groups: number[] = [];
  let group = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 45) {
      if (sep === 0) sep = c;
      else if (sep !== c) return false;
      groups.push(group);
      group = 0;
    } else group++;
  }
  groups.push(group);
  if (groups.length === 1) return true;
  const shape = groups.join('-');
  if (shape === '4-6-5' || shape === '4-6-4') return true;
  for (let g = 0; g < groups.length - 1; g++) if (groups[g] !== 4) return false;
  return groups[groups.length - 1]! <= 4;
}

/** Where the next digit group of the run starts (after its first separator), or the run's end. */
function nextGroup(text: string, start: number, end: number): number {
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 45) return i + 1;
  }
  return end;
}

function countDigits(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}
