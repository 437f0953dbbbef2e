// One pass over a cell that answers "could any detector match here?" before any regex runs.
// The same flags are computed from a JS string (char codes) and from UTF-8 bytes: every byte of
// a multi-byte UTF-8 sequence is >= 0x80, so ASCII triggers are found identically in both, and
// a clean cell costs one tight loop and no allocation.

export const H_AT = 1; // '@' (email, URL credentials)
export const H_PHONE = 2; // a digit run that can be a phone: >= 8 digits after '+', '(' or a leading 0, or 3-then-4 digit groups ending >= 10 digits
export const H_DIGITS9 = 4; // a run of >= 9 digits joined by '-' only (SSN)
export const H_DIGITS13 = 8; // >= 13 (card)
export const H_IBAN = 16; // two upper-case letters then two digits
export const H_PEM = 32; // '-----'
export const H_TOKEN = 64; // eyJ, AKIA/ASIA, gh?_, pat_, xox?-, (b)earer
export const H_KV = 128; // a secret-ish keyword (pass, pwd, secret, token, key, basic) and '=' or ':'
const H_ASSIGN = 256;
export const H_BARE15 = 1024; // >= 15 digits with nothing between them (a card glued to digits)
export const H_WIDE_GROUP = 2048; // a group of >= 5 digits and another group in one run (a grouped card glued to digits)

/**
 * A number as PostgreSQL writes it (int, float, numeric text: digits, `-`, `.`, `e+`, NaN,
 * Infinity) shorter than this cannot pass any detector's guard: H_PHONE needs 8 digits, H_DIGITS9
 * 9, H_DIGITS13 13, and the other guards need characters such a number never has (`@`, `=`, `:`,
 * upper-case letters before digits, `-----`, token prefixes). Callers that know a value is such a
 * number skip the scan below it (bulk reads of ids and amounts). Tested in test/unit/masking.
 */
export const SHORTEST_DETECTABLE_NUMBER = 8;

/** Flags for a JS string. */
export function scanString(s: string): number {
  let flags = 0;
  let run = 0; // digits joined by any soft separator (phone, card)
  let dashRun = 0; // digits joined by '-' only (SSN)
  let maxRun = 0;
  let maxDashRun = 0;
  let dashes = 0;
  let group = 0; // digits since the last separator
  let prevGroup = 0;
  let lead = -1; // digits since the run's '+', '(' or leading 0; -1: none
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  const end = s.length;
  for (let i = 0; i < end; i++) {
    // Outside a digit run (run === 0; then group and dashRun are 0 too), a character without
    // a role or a soft separator other than '-' changes nothing but the dash count (reset) and
    // the last three characters: most of a text cell is skipped in this tight loop, and those
    // are set after it.
    if (run === 0 && idleSkips(s.charCodeAt(i))) {
      do i++;
      while (i < end && idleSkips(s.charCodeAt(i)));
      if (i === end) break;
      dashes = 0;
      p1 = s.charCodeAt(i - 1);
      p2 = i >= 2 ? s.charCodeAt(i - 2) : 0;
      p3 = i >= 3 ? s.charCodeAt(i - 3) : 0;
    }
    const c = s.charCodeAt(i);
    const k = c < 128 ? CLASS[c]! : 0;
    if (k !== 0) {
      if (k === DIGIT) {
        if (run === 0) {
          group = 0;
          prevGroup = 0;
          lead = c === 48 ? 0 : -1;
        }
        // '+' or '(' starts a phone even inside a run (`id 142 +44 20 5473 6043`).
        if (p1 === 43 || p1 === 40) lead = 0;
        if (++run > maxRun) maxRun = run;
        // `group` counts bare digits: 15+ of them (a glued card), or 5+ after a group or a group
        // after 5+ (`…1111 11110`, `04111 1111…`: a grouped card glued to a digit).
        if (++group >= 5) {
          if (group >= 15) flags |= H_BARE15;
          else if (group === 5 && prevGroup !== 0) flags |= H_WIDE_GROUP;
        } else if (group === 1 && prevGroup >= 5) flags |= H_WIDE_GROUP;
        if (lead >= 0 && ++lead >= 8) flags |= H_PHONE;
        if (++dashRun > maxDashRun) maxDashRun = dashRun;
        // Two letters then two digits: the second digit of a group (a letter ends a group).
        if (group === 2 && p1 >= 48 && p1 <= 57 && p2 >= 65 && p2 <= 90 && p3 >= 65 && p3 <= 90) flags |= H_IBAN;
        dashes = 0;
      } else {
        if (c === 45) {
          if (++dashes >= 5) flags |= H_PEM;
        } else {
          dashes = 0;
          dashRun = 0;
        }
        if (group !== 0) {
          if (group === 4 && prevGroup === 3 && run >= 10) flags |= H_PHONE;
          prevGroup = group;
          group = 0;
        }
        if ((k & SOFT) === 0) run = 0;
        if ((k & TRIGGER) !== 0) flags |= triggerFlags(c, p1, p2, p3);
      }
    } else {
      if (group === 4 && prevGroup === 3 && run >= 10) flags |= H_PHONE;
      group = 0;
      run = 0;
      dashRun = 0;
      dashes = 0;
    }
    p3 = p2;
    p2 = p1;
    p1 = c;
  }
  if (group === 4 && prevGroup === 3 && run >= 10) flags |= H_PHONE;
  flags = finish(flags, maxRun, maxDashRun);
  return (flags & H_ASSIGN) !== 0 && keywordInString(s) ? flags | H_KV : flags;
}

/** Flags for UTF-8 bytes `buf[start, end)`; equal to scanString of the decoded text. */
export function scanBytes(buf: Uint8Array, start: number, end: number): number {
  let flags = 0;
  let run = 0;
  let dashRun = 0;
  let maxRun = 0;
  let maxDashRun = 0;
  let dashes = 0;
  let group = 0; // digits since the last separator
  let prevGroup = 0;
  let lead = -1; // digits since the run's '+', '(' or leading 0; -1: none
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  for (let i = start; i < end; i++) {
    // As in scanString: outside a digit run, the bytes that change nothing are skipped.
    if (run === 0 && BYTE_IDLE_SKIPS[buf[i]!] === 1) {
      do i++;
      while (i < end && BYTE_IDLE_SKIPS[buf[i]!] === 1);
      if (i === end) break;
      dashes = 0;
      p1 = buf[i - 1]!;
      p2 = i - 2 >= start ? buf[i - 2]! : 0;
      p3 = i - 3 >= start ? buf[i - 3]! : 0;
    }
    const c = buf[i]!;
    const k = BYTE_CLASS[c]!;
    if (k !== 0) {
      if (k === DIGIT) {
        if (run === 0) {
          group = 0;
          prevGroup = 0;
          lead = c === 48 ? 0 : -1;
        }
        // '+' or '(' starts a phone even inside a run (`id 142 +44 20 5473 6043`).
        if (p1 === 43 || p1 === 40) lead = 0;
        if (++run > maxRun) maxRun = run;
        // `group` counts bare digits: 15+ of them (a glued card), or 5+ after a group or a group
        // after 5+ (`…1111 11110`, `04111 1111…`: a grouped card glued to a digit).
        if (++group >= 5) {
          if (group >= 15) flags |= H_BARE15;
          else if (group === 5 && prevGroup !== 0) flags |= H_WIDE_GROUP;
        } else if (group === 1 && prevGroup >= 5) flags |= H_WIDE_GROUP;
        if (lead >= 0 && ++lead >= 8) flags |= H_PHONE;
        if (++dashRun > maxDashRun) maxDashRun = dashRun;
        // Two letters then two digits: the second digit of a group (a letter ends a group).
        if (group === 2 && p1 >= 48 && p1 <= 57 && p2 >= 65 && p2 <= 90 && p3 >= 65 && p3 <= 90) flags |= H_IBAN;
        dashes = 0;
      } else {
        if (c === 45) {
          if (++dashes >= 5) flags |= H_PEM;
        } else {
          dashes = 0;
          dashRun = 0;
        }
        if (group !== 0) {
          if (group === 4 && prevGroup === 3 && run >= 10) flags |= H_PHONE;
          prevGroup = group;
          group = 0;
        }
        if ((k & SOFT) === 0) run = 0;
        if ((k & TRIGGER) !== 0) flags |= triggerFlags(c, p1, p2, p3);
      }
    } else {
      if (group === 4 && prevGroup === 3 && run >= 10) flags |= H_PHONE;
      group = 0;
      run = 0;
      dashRun = 0;
      dashes = 0;
    }
    p3 = p2;
    p2 = p1;
    p1 = c;
  }
  if (group === 4 && prevGroup === 3 && run >= 10) flags |= H_PHONE;
  flags = finish(flags, maxRun, maxDashRun);
  return (flags & H_ASSIGN) !== 0 && keywordInBytes(buf, start, end) ? flags | H_KV : flags;
}

function finish(flags: number, maxRun: number, maxDashRun: number): number {
  if (maxRun >= 13) flags |= H_DIGITS13;
  if (maxDashRun >= 9) flags |= H_DIGITS9;
  return flags;
}

// H_KV needs a secret-ish keyword as well as '=' or ':'. The keyword letters (s, d, t, n, y, c)
// are a quarter of English text, so they are looked for only in a cell that has an '=' or ':'
// (a second pass over that cell), not on every letter of every cell.
function keywordInString(s: string): boolean {
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (keywordEndsAt(c, p1, p2, p3)) return true;
    p3 = p2;
    p2 = p1;
    p1 = c;
  }
  return false;
}

function keywordInBytes(buf: Uint8Array, start: number, end: number): boolean {
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (keywordEndsAt(c, p1, p2, p3)) return true;
    p3 = p2;
    p2 = p1;
    p1 = c;
  }
  return false;
}

/** Whether `c` ends pass, pwd, (se)cret, (t)oken, key or (b)asic (any case) after p3 p2 p1. */
function keywordEndsAt(c: number, p1: number, p2: number, p3: number): boolean {
  // `x | 0x20` maps only letters onto a-z.
  const l1 = p1 | 0x20;
  const l2 = p2 | 0x20;
  const l3 = p3 | 0x20;
  switch (c | 0x20) {
    case 115: // s: pass
      return l1 === 115 && l2 === 97 && l3 === 112;
    case 100: // d: pwd
      return l1 === 119 && l2 === 112;
    case 116: // t: (se)cret
      return l1 === 101 && l2 === 114 && l3 === 99;
    case 110: // n: (t)oken
      return l1 === 101 && l2 === 107 && l3 === 111;
    case 121: // y: key
      return l1 === 101 && l2 === 107;
    case 99: // c: (b)asic
      return l1 === 105 && l2 === 115 && l3 === 97;
  }
  return false;
}

// Character classes for ASCII; everything else (letters without a role, bytes >= 0x80) is 0
// and takes the loop's fast path.
const DIGIT = 1;
const SOFT = 2; // does not break a digit run: space ( ) + - . /
const TRIGGER = 4; // may end a trigger sequence (see triggerFlags)
const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c] = DIGIT;
for (const ch of ' ()+-./') CLASS[ch.charCodeAt(0)]! |= SOFT;
for (const ch of '@=:J_-ARr') CLASS[ch.charCodeAt(0)]! |= TRIGGER;
// The same for a byte (>= 0x80: 0), so the byte loop needs no range check.
const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS.set(CLASS);
// 1 for what changes nothing outside a digit run: no role, or only SOFT (not '-', which is a
// trigger and counts PEM dashes).
const BYTE_IDLE_SKIPS = new Uint8Array(256);
for (let c = 0; c < 256; c++) BYTE_IDLE_SKIPS[c] = BYTE_CLASS[c] === 0 || BYTE_CLASS[c] === SOFT ? 1 : 0;
const idleSkips = (c: number) => c >= 128 || BYTE_IDLE_SKIPS[c] === 1;

function triggerFlags(c: number, p1: number, p2: number, p3: number): number {
  switch (c) {
    case 64: // @
      return H_AT;
    case 61: // =
    case 58: // :
      return H_ASSIGN;
    case 74: // J of eyJ (base64 of '{"')
      return p1 === 121 && p2 === 101 ? H_TOKEN : 0;
    case 95: // _ of gh[pousr]_ or pat_
      if (p3 === 103 && p2 === 104 && (p1 === 112 || p1 === 111 || p1 === 117 || p1 === 115 || p1 === 114)) {
        return H_TOKEN;
      }
      return p3 === 112 && p2 === 97 && p1 === 116 ? H_TOKEN : 0;
    case 45: // - of xox[baprs]-
      return p3 === 111 && p2 === 120 && (p1 === 98 || p1 === 97 || p1 === 112 || p1 === 114 || p1 === 115)
        ? H_TOKEN
        : 0;
    case 65: // A of AKIA / ASIA
      if (p1 === 73 && (p2 === 75 || p2 === 83) && p3 === 65) return H_TOKEN;
      break;
  }
  // r or R of (b)earer, any case; `x | 0x20` maps only letters onto a-z.
  if ((c | 0x20) === 114) return (p1 | 0x20) === 101 && (p2 | 0x20) === 114 && (p3 | 0x20) === 97 ? H_TOKEN : 0;
  return 0;
}
