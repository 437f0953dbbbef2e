// COPY CSV format, as PostgreSQL writes it (CopyAttributeOutCSV) and reads it back
// (CopyReadLineText / CopyReadAttributesCSV): a quoted field may hold raw newlines, delimiters and
// doubled or escaped quotes; an unquoted field equal to the NULL string is NULL.

const LF = 0x0a;

export interface CsvChars {
  delim: number;
  quote: number;
  escape: number;
}

/**
 * The offset of the newline ending the row that starts at `s`, or -1 when `buf[s, e)` holds no
 * complete row yet. Quote state is tracked as PostgreSQL's line reader does.
 */
export function csvRowEnd(buf: Buffer, s: number, e: number, ch: CsvChars): number {
  const quote = ch.quote;
  // Same quote and escape: the quote simply toggles (PostgreSQL disables the escape then).
  const esc = ch.escape === quote ? -1 : ch.escape;
  let inQuote = false;
  let lastWasEsc = false;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c === LF && !inQuote) return p;
    if (inQuote && c === esc) lastWasEsc = !lastWasEsc;
    if (c === quote && !lastWasEsc) inQuote = !inQuote;
    if (c !== esc) lastWasEsc = false;
  }
  return -1;
}

/** Field flags in the triples splitCsvRow writes. */
export const CSV_QUOTED = 1;

/**
 * Splits the row `buf[s, e)` (without its newline) into fields, appending (start, end, quoted) per
 * field to `out`; returns the field count, or -1 for an unterminated quoted field.
 */
export function splitCsvRow(buf: Buffer, s: number, e: number, ch: CsvChars, out: number[]): number {
  out.length = 0;
  const { delim, quote } = ch;
  const esc = ch.escape;
  let p = s;
  for (;;) {
    const start = p;
    let quoted = 0;
    let endField = false;
    while (!endField) {
      // Outside quotes.
      for (;;) {
        if (p >= e) {
          out.push(start, e, quoted);
          return out.length / 3;
        }
        const c = buf[p++]!;
        if (c === delim) {
          out.push(start, p - 1, quoted);
          endField = true;
          break;
        }
        if (c === quote) {
          quoted = CSV_QUOTED;
          break;
        }
      }
      if (endField) break;
      // Inside quotes.
      for (;;) {
        if (p >= e) return -1;
        const c = buf[p++]!;
        if (c === esc && p < e && (buf[p] === esc || buf[p] === quote)) {
          p++;
          continue;
        }
        if (c === quote) break;
      }
    }
  }
}

/** The value of a quoted field `buf[s, e)` (quotes removed, escapes applied). */
export function decodeCsvField(buf: Buffer, s: number, e: number, ch: CsvChars): string {
  const quote = ch.quote;
  const esc = ch.escape;
  const out = Buffer.allocUnsafe(e - s);
  let o = 0;
  let p = s;
  let inQuote = false;
  while (p < e) {
    const c = buf[p++]!;
    if (!inQuote) {
      if (c === quote) inQuote = true;
      else out[o++] = c;
      continue;
    }
    if (c === esc && p < e && (buf[p] === esc || buf[p] === quote)) {
      out[o++] = buf[p++]!;
      continue;
    }
    if (c === quote) inQuote = false;
    else out[o++] = c;
  }
  return out.toString('utf8', 0, o);
}

/**
 * `value` written as PostgreSQL writes a CSV field: quoted when asked (`quote`), when it equals the
 * NULL string, when it holds the delimiter, quote, CR or LF, or is `\.` alone in a one-column row.
 */
export function encodeCsvField(
  value: string,
  ch: CsvChars,
  nullText: string,
  quote: boolean,
  singleColumn: boolean,
): Buffer {
  const raw = Buffer.from(value, 'utf8');
  let use = quote || value === nullText || (singleColumn && value === '\\.');
  let extra = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === ch.delim || c === ch.quote || c === LF || c === 0x0d) use = true;
    if (c === ch.quote || c === ch.escape) extra++;
  }
  if (!use) return raw;
  const out = Buffer.allocUnsafe(raw.length + extra + 2);
  let o = 0;
  out[o++] = ch.quote;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === ch.quote || c === ch.escape) out[o++] = ch.escape;
    out[o++] = c;
  }
  out[o++] = ch.quote;
  return out;
}
