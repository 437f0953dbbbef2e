// COPY text format, as PostgreSQL writes it (CopyAttributeOutText) and reads it back
// (CopyReadAttributesText): fields split on a one-byte delimiter, backslash escapes, a NULL
// marker compared on the raw bytes. A row never holds a raw newline (it is written `\n`).

const BACKSLASH = 0x5c;

const isOctal = (c: number) => c >= 0x30 && c <= 0x37;
const hexValue = (c: number) =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;

/**
 * Splits the row `buf[s, e)` (without its newline) into fields, appending to `out` a triple
 * (start, end, hasEscape) per field; returns the field count. Escapes are stepped over exactly as
 * PostgreSQL's reader does, so an escaped delimiter (`\@`) never splits a field.
 */
export function splitTextRow(buf: Buffer, s: number, e: number, delim: number, out: number[]): number {
  out.length = 0;
  let start = s;
  let esc = 0;
  let p = s;
  for (;;) {
    if (p >= e) {
      out.push(start, e, esc);
      return out.length / 3;
    }
    const c = buf[p++]!;
    if (c === delim) {
      out.push(start, p - 1, esc);
      start = p;
      esc = 0;
    } else if (c === BACKSLASH) {
      esc = 1;
      if (p >= e) continue;
      const c2 = buf[p++]!;
      if (isOctal(c2)) {
        if (p < e && isOctal(buf[p]!)) {
          p++;
          if (p < e && isOctal(buf[p]!)) p++;
        }
      } else if (c2 === 0x78 /* x */) {
        if (p < e && hexValue(buf[p]!) >= 0) {
          p++;
          if (p < e && hexValue(buf[p]!) >= 0) p++;
        }
      }
    }
  }
}

/** The value of an escaped field `buf[s, e)`: PostgreSQL's de-escaping, then UTF-8. */
export function decodeTextField(buf: Buffer, s: number, e: number): string {
  const out = Buffer.allocUnsafe(e - s);
  let o = 0;
  let p = s;
  while (p < e) {
    const c = buf[p++]!;
    if (c !== BACKSLASH) {
      out[o++] = c;
      continue;
    }
    if (p >= e) break; // a trailing lone backslash is dropped, as the server's reader does
    const c2 = buf[p++]!;
    if (isOctal(c2)) {
      let v = c2 - 0x30;
      if (p < e && isOctal(buf[p]!)) {
        v = v * 8 + (buf[p++]! - 0x30);
        if (p < e && isOctal(buf[p]!)) v = v * 8 + (buf[p++]! - 0x30);
      }
      out[o++] = v & 0xff;
    } else if (c2 === 0x78 && p < e && hexValue(buf[p]!) >= 0) {
      let v = hexValue(buf[p++]!);
      if (p < e && hexValue(buf[p]!) >= 0) v = v * 16 + hexValue(buf[p++]!);
      out[o++] = v;
    } else {
      out[o++] = ESCAPED[c2] ?? c2;
    }
  }
  return out.toString('utf8', 0, o);
}

// \b \f \n \r \t \v → their control characters; any other escaped byte stands for itself.
const ESCAPED: Record<number, number> = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11 };
const LETTER: Record<number, number> = { 8: 0x62, 12: 0x66, 10: 0x6e, 13: 0x72, 9: 0x74, 11: 0x76 };

/** `value` written as PostgreSQL writes a text-format field (CopyAttributeOutText). */
export function encodeTextField(value: string, delim: number): Buffer {
  const raw = Buffer.from(value, 'utf8');
  let extra = 0;
  for (let i = 0; i < raw.length; i++) if (needsEscape(raw[i]!, delim)) extra++;
  if (extra === 0) return raw;
  const out = Buffer.allocUnsafe(raw.length + extra);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (needsEscape(c, delim)) {
      out[o++] = BACKSLASH;
      out[o++] = LETTER[c] ?? c;
    } else out[o++] = c;
  }
  return out;
}

function needsEscape(c: number, delim: number): boolean {
  return c === BACKSLASH || c === delim || LETTER[c] !== undefined;
}
