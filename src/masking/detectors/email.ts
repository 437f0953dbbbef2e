import { redactEmail } from '../redact.js';
import { H_AT } from '../scan.js';
import type { Detector } from './types.js';

// Anchored at each '@' (found with indexOf): the local part is walked leftwards by hand and the
// domain is matched with a sticky regex, so a long text without '@' costs one indexOf.
// Labels may be internationalized (`exämple.de`); the TLD is ASCII, punycode or letters. The
// address ends at its TLD whatever follows (`email || '1'`, `email || '-'`): a TLD has no digits.
const DOMAIN =
  /(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}|\p{L}{2,63})/uy;
/** Non-ASCII letters and digits are allowed in the local part (RFC 6531). */
const WIDE_LOCAL = /^[\p{L}\p{N}]$/u;

const LOCAL = new Uint8Array(128);
for (let c = 48; c <= 57; c++) LOCAL[c] = 1;
for (let c = 65; c <= 90; c++) LOCAL[c] = 1;
for (let c = 97; c <= 122; c++) LOCAL[c] = 1;
for (const ch of '._%+-') LOCAL[ch.charCodeAt(0)] = 1;

export const emailDetector: Detector = {
  name: 'email',
  guard: H_AT,
  find(text, _flags, out) {
    let at = text.indexOf('@');
    while (at !== -1) {
      let start = at;
      while (start > 0 && at - start < 64) {
        const c = text.charCodeAt(start - 1);
        if (c >= 128 ? !WIDE_LOCAL.test(text[start - 1]!) : LOCAL[c] === 0) break;
        start--;
      }
      start = skipAnsiTail(text, start, at);
      while (start < at && text.charCodeAt(start) === 46 /* . */) start++;
      let next = at + 1;
      if (start < at) {
        DOMAIN.lastIndex = at + 1;
        if (DOMAIN.test(text)) {
          const end = DOMAIN.lastIndex;
          out.add(start, end, redactEmail(text.slice(start, at), text.slice(at + 1, end)));
          next = end;
        }
      }
      at = text.indexOf('@', next);
    }
  },
};

/** Terminal colour codes (`ESC[31m`) glued to an address are not part of its local part. */
function skipAnsiTail(text: string, start: number, at: number): number {
  if (start < 2 || text.charCodeAt(start - 1) !== 91 /* [ */ || text.charCodeAt(start - 2) !== 27) return start;
  let i = start;
  while (i < at) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || c === 59) i++;
    else break;
  }
  if (i < at) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return i + 1;
  }
  return start;
}
