import { luhnValid } from '../checksums.js';
import type { MatchSet } from '../matches.js';
import { redactDigits } from '../redact.js';
import { H_BARE15, H_DIGITS13, H_WIDE_GROUP } from '../scan.js';
import type { Detector } from './types.js';

// 13–19 digits starting with a card-network digit (2–6), single spaces or dashes allowed between
// digits, not part of a longer number or a decimal (`0.4111…`, `…1111.25`, `…1111,5`). Any other
// neighbour is a delimiter: a comma, semicolon, bracket, quote, tab or letter, so a list of cards
// (`string_agg(card, ',')`) is found card by card. Validation: one kind of separator, Luhn.
const CARD = /(?<!\d|\d\.)[2-6](?:[ -]?\d){12,18}(?!\d|[.,]\d{1,2}(?!\d))/g;

export const cardDetector: Detector = {
  name: 'credit_card',
  guard: H_DIGITS13,
  find(text, flags, out) {
    findPrintedCards(text, out);
    if (flags & H_WIDE_GROUP) findGluedGroupedCards(text, out);
    if (flags & H_BARE15) findCardsInRuns(text, out);
  },
};

function findPrintedCards(text: string, out: MatchSet): void {
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
}

// A card printed in groups (4-4-4-4 with a shorter last group allowed, Amex 4-6-5, Diners 4-6-4)
// whose first or last group has digits glued on (`'0' || '4111 1111 1111 1111'`): the printed
// pass above starts only where a number starts, so these shapes are matched anywhere, digits
// around them included; one kind of separator and Luhn. The grouping itself is the card's shape: ids are not printed this way.
const GROUPED = /[2-6]\d{3}([ -])\d{4}\1\d{4}\1\d{1,4}|3\d{3}([ -])\d{6}\2\d{4,5}/g;

function findGluedGroupedCards(text: string, out: MatchSet): void {
  GROUPED.lastIndex = 0;
  for (let m = GROUPED.exec(text); m !== null; m = GROUPED.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    // Not glued: the printed pass decides. Glued, the shape is taken as printed (a 4-4-4-3 card
    // with a digit after it reads as 4-4-4-4 and is left to lineage).
    const glued = isDigit(text.charCodeAt(start - 1)) || isDigit(text.charCodeAt(end));
    if (glued && luhnValid(text, start, end) && !isDecimalPart(text, start, end)) {
      out.add(start, end, redactDigits(text.slice(start, end), 4));
    } else GROUPED.lastIndex = start + 1;
  }
}

// A card glued to other digits (`'0' || card`, `card || '7'`, two cards back to back) is one run
// of 15 or more bare digits that is not a card itself. Within such a run, the windows of 14–16
// digits anchored at its start and at its end are cards when an issuer range and length match
// (stricter than a whole run's 2–6 rule, because each window is one more chance) and Luhn passes;
// after a hit the rest of the run is looked at the same way.
// Trade-off: every window is a 1-in-10 Luhn chance, so some random 17–20-digit ids are taken for
// cards: ≈7% of them, against ≈2.5% when only a whole 13–19-digit run was checked (printed by
// test/unit/masking/detectors-property.test.ts). Windows are limited to the
// common card lengths, Diners 14, Amex 15 and 16 (Visa, Mastercard, Discover, JCB, UnionPay):
// 13- and 17–19-digit windows would double that rate for rare cards, which are still found on
// their own. A card between digits on both sides is left to column lineage. Decimals (`0.4111…`,
// `…1111.25`) are not looked into.
const MIN_GLUED = 14;
const MAX_GLUED = 16;

/** A run of bare digits longer than the shortest glued window, tried once per run (the lookbehind
 * fails at once inside a run), without a match array. */
const LONG_RUN = /(?<!\d)\d{15,}/g;

function findCardsInRuns(text: string, out: MatchSet): void {
  LONG_RUN.lastIndex = 0;
  while (LONG_RUN.test(text)) {
    const end = LONG_RUN.lastIndex;
    let start = end - 15;
    while (start > 0 && isDigit(text.charCodeAt(start - 1))) start--;
    if (!isDecimalPart(text, start, end) && !out.overlaps(start, end)) cardsInRun(text, start, end, out);
  }
}

function cardsInRun(text: string, start: number, end: number, out: MatchSet): void {
  let a = start;
  let b = end;
  while (b - a >= MIN_GLUED) {
    const head = windowFrom(text, a, b);
    if (head > 0) {
      out.add(a, a + head, redactDigits(text.slice(a, a + head), 4));
      a += head;
      continue;
    }
    const tail = windowTo(text, a, b);
    if (tail > 0) {
      out.add(b - tail, b, redactDigits(text.slice(b - tail, b), 4));
      b -= tail;
      continue;
    }
    return;
  }
}

/** Length of the longest card at `a` inside `[a, b)`, or 0. */
function windowFrom(text: string, a: number, b: number): number {
  const lengths = issuerLengths(text, a);
  if (lengths === 0) return 0;
  for (let len = Math.min(MAX_GLUED, b - a); len >= MIN_GLUED; len--) {
    if ((lengths & (1 << len)) !== 0 && luhnValid(text, a, a + len)) return len;
  }
  return 0;
}

/** Length of the longest card ending at `b` inside `[a, b)`, or 0. */
function windowTo(text: string, a: number, b: number): number {
  for (let len = Math.min(MAX_GLUED, b - a); len >= MIN_GLUED; len--) {
    if ((issuerLengths(text, b - len) & (1 << len)) !== 0 && luhnValid(text, b - len, b)) return len;
  }
  return 0;
}

const L13 = 1 << 13;
const L14 = 1 << 14;
const L15 = 1 << 15;
const L16 = 1 << 16;
const L17_19 = (1 << 17) | (1 << 18) | (1 << 19);
const L14_19 = L14 | L15 | L16 | L17_19;
const L16_19 = L16 | L17_19;

/**
 * The card lengths (bit `1 << length`) of the main networks whose issuer range (ISO/IEC 7812
 * IIN) starts at `at`: Visa, Mastercard, American Express, Diners, JCB, Discover, UnionPay.
 * Maestro's wide ranges are left out. Most digits rule a window out at the first one.
 */
function issuerLengths(text: string, at: number): number {
  const d1 = text.charCodeAt(at) - 48;
  if (d1 === 4) return L13 | L16 | (1 << 19);
  if (d1 < 2 || d1 > 6) return 0;
  const p2 = d1 * 10 + text.charCodeAt(at + 1) - 48;
  switch (d1) {
    case 5:
      return p2 >= 51 && p2 <= 55 ? L16 : 0;
    case 2: {
      const p4 = p2 * 100 + (text.charCodeAt(at + 2) - 48) * 10 + text.charCodeAt(at + 3) - 48;
      return p4 >= 2221 && p4 <= 2720 ? L16 : 0;
    }
    case 3: {
      if (p2 === 34 || p2 === 37) return L15;
      if (p2 === 36 || p2 === 38 || p2 === 39) return L14_19;
      const p3 = p2 * 10 + text.charCodeAt(at + 2) - 48;
      if (p3 >= 300 && p3 <= 305) return L14_19;
      const p4 = p3 * 10 + text.charCodeAt(at + 3) - 48;
      return p4 >= 3528 && p4 <= 3589 ? L16_19 : 0;
    }
    case 6: {
      if (p2 === 65 || p2 === 62) return L16_19;
      const p3 = p2 * 10 + text.charCodeAt(at + 2) - 48;
      if (p3 >= 644 && p3 <= 649) return L16_19;
      return p3 * 10 + text.charCodeAt(at + 3) - 48 === 6011 ? L16_19 : 0;
    }
  }
  return 0;
}

/** The run is a fraction (`0.4111…`) or an integer part with decimals (`…1111.25`, `…1111,5`). */
function isDecimalPart(text: string, start: number, end: number): boolean {
  if (start >= 2 && text.charCodeAt(start - 1) === 46 && isDigit(text.charCodeAt(start - 2))) return true;
  const sep = text.charCodeAt(end);
  if ((sep === 46 || sep === 44) && isDigit(text.charCodeAt(end + 1))) {
    let k = end + 1;
    while (k < text.length && isDigit(text.charCodeAt(k))) k++;
    return k - end - 1 <= 2;
  }
  return false;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

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
