// Masking for terminal and other byte streams, where a value can arrive split across chunks.
//
// Hold-back rule (documented for adapters):
//  - push() emits everything up to the last whitespace or line break and holds the trailing
//    partial word, so a word (an email, a token, `password=…`) is masked whole;
//  - it also holds, from before that whitespace: a number-like phrase (digits, capitals and
//    ` ()+-./`, e.g. `4111 1111 …`, `DE89 3704 …`), a secret key or `Bearer` still waiting for
//    its value, and an incomplete `-----BEGIN … PRIVATE KEY-----` header;
//  - it never holds more than `maxHold` characters (default 1024): past that the oldest part is
//    emitted, masked, even mid-word;
//  - a private key whose END line has not arrived is replaced by `[REDACTED:private_key]` at
//    once and the rest of it is dropped until its END line, however long the key is.
// Interactive sessions: call flush() when the stream goes idle (e.g. 30–50 ms without output),
// so typed echo and prompts are not held back; a value split by that idle flush is masked only
// in the parts that are recognizable on their own.
import { PRIVATE_KEY_BEGIN, privateKeyEnd } from './detectors/index.js';
import type { Masker } from './masker.js';
import { secretMarker } from './redact.js';

export interface StreamMaskerOptions {
  /** Most characters held back at once (min 64, default 1024). */
  maxHold?: number;
}

/** Enough of a key's tail to find its END line when that line is split across chunks. */
const KEY_END_TAIL = 64;

const PHRASE = new Uint8Array(128);
for (let c = 48; c <= 57; c++) PHRASE[c] = 1;
for (let c = 65; c <= 90; c++) PHRASE[c] = 1;
for (const ch of ' \t()+-./') PHRASE[ch.charCodeAt(0)] = 1;

const KEY_AWAITING_VALUE =
  /(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|(?:access|secret|private|auth|client|signing|encryption)[_-]?key|bearer|basic|authorization)["']?[ \t]*(?:(?::=|==|[:=])[ \t]*["']?)?$/i;

export class StreamMasker {
  private held = '';
  /** Inside a private key whose END line has not been seen: output is dropped. */
  private inKey = false;
  private readonly maxHold: number;

  constructor(
    private readonly masker: Masker,
    options: StreamMaskerOptions = {},
  ) {
    this.maxHold = Math.max(64, options.maxHold ?? 1024);
  }

  /** Characters held back (not yet emitted). */
  get pending(): number {
    return this.held.length;
  }

  /** What can be emitted now, masked. */
  push(chunk: string): string {
    if (!this.masker.detects) return chunk;
    let text = this.held.length === 0 ? chunk : this.held + chunk;
    this.held = '';
    if (this.inKey) {
      const end = privateKeyEnd(text, 0);
      if (end === -1) {
        this.held = text.slice(-KEY_END_TAIL);
        return '';
      }
      this.inKey = false;
      text = text.slice(end);
    }
    if (this.masker.detectsSecrets) {
      const open = openPrivateKey(text);
      if (open !== null) {
        this.inKey = true;
        this.held = text.slice(Math.max(open.headerEnd, text.length - KEY_END_TAIL));
        return this.masker.maskText(text.slice(0, open.begin)) + secretMarker('private_key');
      }
    }
    const cut = this.cutPoint(text);
    this.held = text.slice(cut);
    return cut === 0 ? '' : this.masker.maskText(text.slice(0, cut));
  }

  /** Everything held, masked (a partial private key stays dropped). */
  flush(): string {
    const held = this.held;
    this.held = '';
    if (this.inKey || held.length === 0) return '';
    return this.masker.maskText(held);
  }

  private cutPoint(text: string): number {
    let cut = lastWhitespace(text) + 1;
    if (cut > 0 && cut < text.length + 1) cut = keepPhrase(text, cut);
    if (this.masker.detectsSecrets) {
      cut = keepPrivateKeyHeader(text, cut);
      if (cut > 0) {
        const from = Math.max(0, cut - 80);
        KEY_AWAITING_VALUE.lastIndex = 0;
        const m = KEY_AWAITING_VALUE.exec(text.slice(from, cut));
        if (m !== null) cut = from + m.index;
      }
    }
    if (text.length - cut > this.maxHold) {
      cut = text.length - this.maxHold;
      const c = text.charCodeAt(cut - 1);
      if (c >= 0xd800 && c <= 0xdbff) cut--;
    }
    return cut;
  }
}

function lastWhitespace(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) return i;
  }
  return -1;
}

/** A cut after a space inside a number-like phrase moves to the phrase's start. */
function keepPhrase(text: string, cut: number): number {
  const ws = text.charCodeAt(cut - 1);
  if (ws !== 32 && ws !== 9) return cut;
  let j = cut - 1;
  let digit = false;
  while (j > 0) {
    const c = text.charCodeAt(j - 1);
    if (c >= 128 || PHRASE[c] === 0) break;
    if (c >= 48 && c <= 57) digit = true;
    j--;
  }
  if (!digit) return cut;
  // A phrase glued to the letters before it (`hunter2`, `S3cretPass2024`) is held with its whole
  // word: cut mid-word, the head would be masked without its tail and the digits pass in clear.
  // After punctuation (`…4567: 123-45-6789`) the phrase starts a value of its own.
  if (j > 0 && gluedToWord(text.charCodeAt(j - 1))) {
    while (j > 0) {
      const c = text.charCodeAt(j - 1);
      if (c === 32 || c === 10 || c === 13 || c === 9) break;
      j--;
    }
  }
  return j;
}

/** A lower-case letter, `_` or any non-ASCII character: part of the same word as a phrase after it. */
function gluedToWord(c: number): boolean {
  return (c >= 97 && c <= 122) || c === 95 || c >= 128;
}

/** Never cut inside a private-key header or a complete key's END line. */
function keepPrivateKeyHeader(text: string, cut: number): number {
  const begin = text.lastIndexOf('-----BEGIN');
  if (begin === -1) return cut;
  PRIVATE_KEY_BEGIN.lastIndex = begin;
  const header = PRIVATE_KEY_BEGIN.exec(text);
  if (header !== null && header.index === begin) {
    const end = privateKeyEnd(text, begin + header[0].length);
    return Math.max(end, cut);
  }
  // Incomplete header (no line break yet and short): it may still become a private key.
  if (begin < cut && text.length - begin < 80 && text.indexOf('\n', begin) === -1) return begin;
  return cut;
}

/** The first private key in `text` whose END line is missing, or null. */
function openPrivateKey(text: string): { begin: number; headerEnd: number } | null {
  PRIVATE_KEY_BEGIN.lastIndex = 0;
  for (let m = PRIVATE_KEY_BEGIN.exec(text); m !== null; m = PRIVATE_KEY_BEGIN.exec(text)) {
    const headerEnd = m.index + m[0].length;
    const end = privateKeyEnd(text, headerEnd);
    if (end === -1) return { begin: m.index, headerEnd };
    PRIVATE_KEY_BEGIN.lastIndex = end;
  }
  return null;
}
