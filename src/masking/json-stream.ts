// Streaming JSON masking (HTTP responses, NDJSON, watch streams): the same rules as maskJson —
// values under keys naming a masked column are redacted (text → partial, anything else → null,
// a whole object or array → null), values under secret keys are replaced when `secret` is on,
// every string (keys too) goes through the detectors — but over bytes as they arrive, in bounded
// memory: bytes that need no change are passed through as they are, only the string (or scalar)
// being decided is held, and a string longer than MAX_STRING is masked in pieces.
//
// Input that is not JSON fails closed: push() throws a JsonStreamError and the caller ends the
// response (what was already emitted was masked).
import { StringDecoder } from 'node:string_decoder';
import { SECRET_KEY } from './detectors/index.js';
import type { Masker } from './masker.js';
import { redactWhole, secretMarker } from './redact.js';
import { StreamMasker } from './stream.js';

/** Longest string held whole before it is masked in pieces. */
const MAX_STRING = 1024 * 1024;
/** Longest number or literal token. */
const MAX_SCALAR = 1024;
/** Deepest nesting accepted (deeper fails closed). */
const MAX_DEPTH = 1000;

export class JsonStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonStreamError';
  }
}

// Object frame states (arrays need only one: after a value, expect `,` or `]`).
const EXPECT_KEY = 0; // after `{` or `,`: a key (or `}` right after `{`)
const EXPECT_COLON = 1;
const EXPECT_VALUE = 2;
const EXPECT_COMMA = 3; // after a value: `,` or the closing bracket
const OBJ = 0;
const ARR = 1;

type Mode = 0 | 1 | 2; // none | column (redact) | secret
const NONE: Mode = 0;
const COLUMN: Mode = 1;
const SECRET: Mode = 2;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class JsonStreamMasker {
  private readonly kinds: number[] = [];
  private readonly states: number[] = [];
  /** Top level: expecting a value (NDJSON and concatenated values are accepted). */
  private topState = EXPECT_VALUE;
  /** Mode of the value about to start (from the key before it). */
  private mode: Mode = NONE;
  private lastKey = '';

  // String in progress.
  private inString = false;
  private stringIsKey = false;
  private stringMode: Mode = NONE;
  private stringParts: Buffer[] = [];
  private stringBytes = 0;
  private escape = 0; // bytes of the current escape still to come (1 after `\`, 4 after `\u`)
  private stringHasEscape = false;
  /** Set once a string outgrew MAX_STRING: it is being masked in pieces. */
  private long: { decoder: StringDecoder; masker: StreamMasker | null } | null = null;

  // Scalar (number or literal) in progress: only held when it must be replaced.
  private inScalar = false;
  private scalarMode: Mode = NONE;
  private scalarParts: string[] = [];
  private scalarLength = 0;

  // A subtree under a masked column key, being dropped.
  private skipDepth = 0;
  private skipInString = false;
  private skipEscape = false;

  constructor(private readonly masker: Masker) {}

  /** Masked bytes for this chunk (possibly empty: a string is still being held). */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let from = 0;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.skipDepth > 0) {
        i = this.skipSubtree(chunk, i);
        from = i;
        continue;
      }
      if (this.inString) {
        const end = this.scanString(chunk, i);
        if (end === -1) {
          this.holdString(chunk.subarray(i), out);
          from = n;
          i = n;
          break;
        }
        this.holdString(chunk.subarray(i, end), out);
        i = end + 1;
        from = i;
        this.endString(out);
        continue;
      }
      const c = chunk[i]!;
      if (this.inScalar) {
        if (isScalarByte(c)) {
          i++;
          continue;
        }
        const held = this.scalarMode !== NONE;
        this.endScalar(chunk, from, i, out);
        if (held) from = i;
        continue;
      }
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      const state = this.state();
      if (state === EXPECT_VALUE) {
        const mode = this.mode;
        this.mode = NONE;
        if (c === QUOTE) {
          if (i > from) out.push(chunk.subarray(from, i));
          out.push(chunk.subarray(i, i + 1));
          this.startString(false, mode);
          i++;
          from = i;
          continue;
        }
        if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
          if (mode === COLUMN) {
            if (i > from) out.push(chunk.subarray(from, i));
            out.push(NULL_BYTES);
            this.afterValue();
            this.skipDepth = 1;
            i++;
            from = i;
            continue;
          }
          this.open(c === 0x7b ? OBJ : ARR);
          i++;
          continue;
        }
        if (
          c === 0x5d /* ] */ &&
          this.kinds.length > 0 &&
          this.kinds[this.kinds.length - 1] === ARR &&
          this.emptyArray
        ) {
          this.close();
          i++;
          continue;
        }
        if (isScalarStart(c)) {
          this.inScalar = true;
          this.scalarMode = mode;
          this.scalarParts = [];
          this.scalarLength = 0;
          if (mode !== NONE) {
            if (i > from) out.push(chunk.subarray(from, i));
            from = i;
          }
          i++;
          continue;
        }
        throw this.unexpected(c);
      }
      if (state === EXPECT_KEY) {
        if (c === QUOTE) {
          if (i > from) out.push(chunk.subarray(from, i));
          out.push(chunk.subarray(i, i + 1));
          this.startString(true, NONE);
          i++;
          from = i;
          continue;
        }
        if (c === 0x7d /* } */ && this.emptyObject) {
          this.close();
          i++;
          continue;
        }
        throw this.unexpected(c);
      }
      if (state === EXPECT_COLON) {
        if (c !== 0x3a) throw this.unexpected(c);
        this.setState(EXPECT_VALUE);
        this.mode = this.modeFor(this.lastKey);
        i++;
        continue;
      }
      // EXPECT_COMMA
      const kind = this.kinds[this.kinds.length - 1];
      if (c === 0x2c /* , */ && kind !== undefined) {
        this.setState(kind === OBJ ? EXPECT_KEY : EXPECT_VALUE);
        this.emptyObject = false;
        this.emptyArray = false;
        i++;
        continue;
      }
      if ((c === 0x7d && kind === OBJ) || (c === 0x5d && kind === ARR)) {
        this.close();
        i++;
        continue;
      }
      throw this.unexpected(c);
    }
    if (this.inScalar && this.scalarMode !== NONE && from < n) {
      this.holdScalar(chunk.toString('latin1', from, n));
      from = n;
    }
    if (from < n) out.push(chunk.subarray(from, n));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The end of the body: what is still held, or a JsonStreamError when the JSON is incomplete. */
  end(): Buffer {
    const out: Buffer[] = [];
    if (this.inScalar) this.endScalar(EMPTY, 0, 0, out);
    if (this.inString || this.skipDepth > 0 || this.kinds.length > 0 || this.mode !== NONE) {
      throw new JsonStreamError('the JSON body ended early');
    }
    return Buffer.concat(out);
  }

  // True right after `{` / `[` (a closing bracket is allowed at once).
  private emptyObject = false;
  private emptyArray = false;

  private state(): number {
    return this.states.length === 0 ? this.topState : this.states[this.states.length - 1]!;
  }

  private setState(s: number): void {
    if (this.states.length === 0) this.topState = s;
    else this.states[this.states.length - 1] = s;
  }

  private open(kind: number): void {
    if (this.kinds.length >= MAX_DEPTH) throw new JsonStreamError(`JSON nested deeper than ${MAX_DEPTH}`);
    this.kinds.push(kind);
    this.states.push(kind === OBJ ? EXPECT_KEY : EXPECT_VALUE);
    this.emptyObject = kind === OBJ;
    this.emptyArray = kind === ARR;
  }

  private close(): void {
    this.kinds.pop();
    this.states.pop();
    this.emptyObject = false;
    this.emptyArray = false;
    this.afterValue();
  }

  private afterValue(): void {
    this.emptyObject = false;
    this.emptyArray = false;
    this.setState(this.states.length === 0 ? EXPECT_VALUE : EXPECT_COMMA);
  }

  private modeFor(key: string): Mode {
    if (this.masker.jsonKeyIsMasked(key)) return COLUMN;
    if (this.masker.detectsSecrets && SECRET_KEY.test(key)) return SECRET;
    return NONE;
  }

  private unexpected(c: number): JsonStreamError {
    return new JsonStreamError(`invalid JSON: unexpected ${JSON.stringify(String.fromCharCode(c))}`);
  }

  // --- strings ---

  private startString(isKey: boolean, mode: Mode): void {
    this.inString = true;
    this.stringIsKey = isKey;
    this.stringMode = mode;
    this.stringParts = [];
    this.stringBytes = 0;
    this.escape = 0;
    this.stringHasEscape = false;
    this.long = null;
    this.pendingRaw = '';
  }

  /** Index of the closing quote from `i`, or -1 (escape state carried across chunks). */
  private scanString(chunk: Buffer, i: number): number {
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.escape > 0) {
        this.escape = this.escape === 1 && c === 0x75 /* u */ ? 4 : this.escape - 1;
        continue;
      }
      if (c === BACKSLASH) {
        this.escape = 1;
        this.stringHasEscape = true;
      } else if (c === QUOTE) return i;
      else if (c < 0x20) throw new JsonStreamError('invalid JSON: control character in a string');
    }
    return -1;
  }

  private holdString(part: Buffer, out: Buffer[]): void {
    if (part.length === 0) return;
    if (this.long) {
      this.longPiece(part, out);
      return;
    }
    this.stringParts.push(part);
    this.stringBytes += part.length;
    if (this.stringBytes > MAX_STRING) this.goLong(out);
  }

  /** The held string outgrew MAX_STRING: mask it in pieces from now on. */
  private goLong(out: Buffer[]): void {
    const held = Buffer.concat(this.stringParts);
    this.stringParts = [];
    this.stringBytes = 0;
    const redact = this.stringIsKey || this.stringMode !== NONE;
    // A huge key, or a huge value under a masked/secret key, is replaced as a whole.
    this.long = { decoder: new StringDecoder('utf8'), masker: redact ? null : new StreamMasker(this.masker) };
    this.longPiece(held, out);
  }

  private pendingRaw = '';

  private longPiece(part: Buffer, out: Buffer[]): void {
    const long = this.long!;
    if (long.masker === null) return; // dropped: replaced at the end
    let raw = this.pendingRaw + long.decoder.write(part);
    // Never cut inside an escape: keep from the last backslash run that may be incomplete.
    const cut = safeCut(raw);
    this.pendingRaw = raw.slice(cut);
    raw = raw.slice(0, cut);
    if (raw.length === 0) return;
    const text = JSON.parse(`"${raw}"`) as string;
    const masked = long.masker.push(text);
    if (masked.length > 0) out.push(Buffer.from(JSON.stringify(masked).slice(1, -1), 'utf8'));
  }

  private endString(out: Buffer[]): void {
    this.inString = false;
    const isKey = this.stringIsKey;
    const mode = this.stringMode;
    if (this.long) {
      const long = this.long;
      this.long = null;
      if (long.masker === null) {
        out.push(
          Buffer.from(isKey ? '***"' : `${JSON.stringify(mode === SECRET ? secretMarker('secret') : '***').slice(1)}`),
        );
      } else {
        const rest = this.pendingRaw + long.decoder.end();
        this.pendingRaw = '';
        const text = rest.length > 0 ? (JSON.parse(`"${rest}"`) as string) : '';
        const masked = long.masker.push(text) + long.masker.flush();
        out.push(Buffer.from(`${JSON.stringify(masked).slice(1)}`, 'utf8'));
      }
      if (isKey) {
        this.lastKey = '';
        this.setState(EXPECT_COLON);
      } else this.afterValue();
      return;
    }
    const raw = this.stringParts.length === 1 ? this.stringParts[0]! : Buffer.concat(this.stringParts);
    this.stringParts = [];
    let replacement: string | null = null;
    if (isKey) {
      const key = this.stringHasEscape ? decode(raw) : raw.toString('utf8');
      this.lastKey = key;
      const masked = this.masker.maskText(key);
      if (masked !== key) replacement = masked;
      this.setState(EXPECT_COLON);
    } else {
      if (mode === COLUMN) {
        const value = decode(raw);
        const r = redactWhole(value);
        if (r !== value) replacement = r;
      } else if (mode === SECRET && raw.length > 0) {
        replacement = secretMarker(/^(pass|pwd)/i.test(this.lastKey) ? 'password' : 'secret');
      } else if (this.stringHasEscape) {
        const value = decode(raw);
        const masked = this.masker.maskText(value);
        if (masked !== value) replacement = masked;
      } else {
        replacement = this.masker.maskTextOf(raw, 0, raw.length);
      }
      this.afterValue();
    }
    if (replacement === null) {
      out.push(raw, QUOTE_BYTES);
    } else {
      out.push(Buffer.from(`${JSON.stringify(replacement).slice(1)}`, 'utf8'));
    }
  }

  // --- numbers and literals ---

  private holdScalar(text: string): void {
    this.scalarLength += text.length;
    if (this.scalarLength > MAX_SCALAR) throw new JsonStreamError('invalid JSON: a number or literal is too long');
    this.scalarParts.push(text);
  }

  /** The scalar ended at chunk[i] (exclusive); `from` is where its unemitted bytes start. */
  private endScalar(chunk: Buffer, from: number, i: number, out: Buffer[]): void {
    this.inScalar = false;
    const mode = this.scalarMode;
    if (mode !== NONE) {
      if (i > from) this.holdScalar(chunk.toString('latin1', from, i));
      const token = this.scalarParts.join('');
      this.scalarParts = [];
      if (!isValidScalar(token)) throw new JsonStreamError(`invalid JSON: ${JSON.stringify(token.slice(0, 32))}`);
      const isNumber = token !== 'true' && token !== 'false' && token !== 'null';
      if (mode === COLUMN) out.push(NULL_BYTES);
      else if (isNumber)
        out.push(Buffer.from(JSON.stringify(secretMarker(/^(pass|pwd)/i.test(this.lastKey) ? 'password' : 'secret'))));
      else out.push(Buffer.from(token, 'latin1'));
    }
    // Unmasked: its bytes stay in the chunk and pass through.
    this.afterValue();
  }

  // --- dropped subtrees ---

  /** Drop bytes of a masked subtree from i; returns the index after it (or the chunk's end). */
  private skipSubtree(chunk: Buffer, i: number): number {
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.skipInString) {
        if (this.skipEscape) this.skipEscape = false;
        else if (c === BACKSLASH) this.skipEscape = true;
        else if (c === QUOTE) this.skipInString = false;
        continue;
      }
      if (c === QUOTE) this.skipInString = true;
      else if (c === 0x7b || c === 0x5b) {
        if (++this.skipDepth > MAX_DEPTH) throw new JsonStreamError(`JSON nested deeper than ${MAX_DEPTH}`);
      } else if (c === 0x7d || c === 0x5d) {
        if (--this.skipDepth === 0) return i + 1;
      }
    }
    return i;
  }
}

const NULL_BYTES = Buffer.from('null');
const EMPTY = Buffer.alloc(0);
const QUOTE_BYTES = Buffer.from('"');

function decode(raw: Buffer): string {
  try {
    return JSON.parse(`"${raw.toString('utf8')}"`) as string;
  } catch {
    throw new JsonStreamError('invalid JSON: bad escape in a string');
  }
}

/** Where a raw (escaped) string piece can be cut without splitting an escape sequence. */
function safeCut(raw: string): number {
  const last = raw.lastIndexOf('\\', raw.length - 1);
  if (last === -1 || last < raw.length - 12) return raw.length;
  // Walk escapes from a point known to be outside one.
  let i = Math.max(0, raw.length - 24);
  // Back up to the start of a backslash run, so run parity is right.
  while (i > 0 && raw.charCodeAt(i - 1) === BACKSLASH) i--;
  let safe = i;
  while (i < raw.length) {
    if (raw.charCodeAt(i) === BACKSLASH) {
      const len = raw.charCodeAt(i + 1) === 0x75 ? 6 : 2;
      if (i + len > raw.length) return safe;
      i += len;
      // Keep a high surrogate escape with its low half.
      if (len === 6 && /^\\u[dD][89abAB]/.test(raw.slice(i - 6, i)) && i + 6 > raw.length) return i - 6;
      safe = i;
    } else {
      i++;
      safe = i;
    }
  }
  return safe;
}

function isScalarStart(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x74 || c === 0x66 || c === 0x6e;
}

function isScalarByte(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x61 && c <= 0x7a) || // letters of true/false/null and e
    c === 0x2d ||
    c === 0x2b ||
    c === 0x2e ||
    c === 0x45
  );
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function isValidScalar(token: string): boolean {
  return token === 'true' || token === 'false' || token === 'null' || NUMBER.test(token);
}
