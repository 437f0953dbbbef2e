// Masks the output of one `COPY … TO STDOUT` as it streams: every CopyData payload from the
// server is split into rows and fields in the COPY's own format (text, CSV, binary), each field
// goes through its column's CellMode, changed rows are re-encoded, and a CopyData frame goes to
// the client. Rows split across CopyData messages are carried (bounded) until complete. A COPY
// that cannot be parsed ends with a CopyMaskError rather than passing anything unmasked.
import type { Masker } from '../../../masking/index.js';
import { buildColumnPlan, CellMode, type ColumnPlan } from '../column-plan.js';
import type { SourceOf } from '../column-sources.js';
import type { CopyResponse, FieldDescription } from '../wire/index.js';
import { binaryFieldText, binaryHeaderLength, binaryTupleEnd } from './copy-binary.js';
import { type CellResult, KEEP, maskBinaryField, maskTextField } from './copy-cells.js';
import { type CsvChars, csvRowEnd, decodeCsvField, encodeCsvField, splitCsvRow } from './copy-csv.js';
import { CopyMaskError } from './copy-errors.js';
import type { CopySpec } from './copy-spec.js';
import { decodeTextField, encodeTextField, splitTextRow } from './copy-text.js';

/** Default bound on a partial row carried between CopyData messages. */
export const DEFAULT_MAX_CARRY = 1024 * 1024;

export interface CopyOutOptions {
  spec: CopySpec;
  /** The server's CopyOutResponse. */
  response: CopyResponse;
  /**
   * From copyColumnPlan over the described columns. null when they could not be described: then
   * every value is masked (text/CSV → redacted text, binary → NULL).
   */
  plan: ColumnPlan | null;
  /** null: nothing is masked for this session (rows are still recorded). */
  masker: Masker | null;
  /** How many decoded rows to keep for the recording. */
  keepRows: number;
  maxCarry?: number;
}

/** Why `spec` must not run for a session masked by `masker` (null: it may run). */
export function copyRefusal(spec: CopySpec, masker: Masker | null): string | null {
  if (spec.refuse) return spec.refuse;
  // Values equal to the NULL string are written as it, unmasked: it must not itself be a secret.
  if (masker?.active && spec.format !== 'binary' && masker.maskText(spec.null) !== spec.null) {
    return 'COPY NULL string contains a value that masking would hide';
  }
  return null;
}

/** The column plan for a COPY: the described fields in the COPY's format, then buildColumnPlan. */
export function copyColumnPlan(
  spec: CopySpec,
  fields: readonly FieldDescription[],
  sources: readonly SourceOf[],
  masker: Masker,
): ColumnPlan {
  const format = spec.format === 'binary' ? 1 : 0;
  return buildColumnPlan(
    fields.map((f) => (f.format === format ? f : { ...f, format })),
    masker,
    sources,
  );
}

type Row = (string | null)[];

export class CopyOutMasker {
  /** Decoded rows after masking (at most keepRows), for the recording. */
  readonly rows: Row[] = [];
  /** Data rows seen (the header line is not counted). */
  rowCount = 0;
  /** Column names when described. */
  readonly columns: string[] | null;

  private readonly format: CopySpec['format'];
  private readonly ncols: number;
  private readonly masker: Masker | null;
  /** Per-column modes; null when nothing needs masking. */
  private readonly modes: readonly CellMode[] | null;
  private readonly fields: readonly FieldDescription[] | null;
  private readonly keepRows: number;
  private readonly maxCarry: number;
  private readonly delim: number;
  private readonly delimBuf: Buffer;
  private readonly csv: CsvChars;
  private readonly nullText: string;
  private readonly nullBytes: Buffer;
  private headerPending: boolean;
  /** Binary stream position: 0 before the file header, 1 in tuples, 2 after the trailer. */
  private binState = 0;
  private carry: Buffer | null = null;
  private failure: CopyMaskError | null = null;
  private readonly scratch: number[] = [];

  constructor(opts: CopyOutOptions) {
    const { spec, response, plan, masker } = opts;
    const refusal = copyRefusal(spec, masker);
    if (refusal) throw new CopyMaskError('refused', refusal);
    const binary = spec.format === 'binary';
    if ((response.overallFormat === 1) !== binary) {
      throw new CopyMaskError('shape-mismatch', 'COPY format differs from the statement');
    }
    this.ncols = response.columnFormats.length;
    if (plan) {
      if (plan.fields.length !== this.ncols) {
        throw new CopyMaskError(
          'shape-mismatch',
          `COPY sends ${this.ncols} columns, ${plan.fields.length} were described`,
        );
      }
      if (plan.fields.some((f) => f.format !== (binary ? 1 : 0))) {
        throw new CopyMaskError('shape-mismatch', 'COPY column plan was built for the wrong format');
      }
    }
    this.format = spec.format;
    this.masker = masker?.active ? masker : null;
    this.fields = plan?.fields ?? null;
    this.columns = plan ? plan.fields.map((f) => f.name) : null;
    if (this.masker === null) this.modes = null;
    else if (plan === null)
      this.modes = new Array<CellMode>(this.ncols).fill(binary ? CellMode.Null : CellMode.RedactText);
    else this.modes = plan.active ? plan.modes : null;
    this.keepRows = opts.keepRows;
    this.maxCarry = opts.maxCarry ?? DEFAULT_MAX_CARRY;
    this.delim = spec.delimiter.charCodeAt(0);
    this.delimBuf = Buffer.from([this.delim]);
    this.csv = { delim: this.delim, quote: spec.quote.charCodeAt(0), escape: spec.escape.charCodeAt(0) };
    this.nullText = spec.null;
    this.nullBytes = Buffer.from(spec.null, 'utf8');
    this.headerPending = spec.header && !binary;
  }

  /** The error that ended this COPY, if any (later calls return null). */
  get failed(): CopyMaskError | null {
    return this.failure;
  }

  /**
   * One CopyData from the server (`frame` the whole message, its payload `buf[start, start +
   * length)`). Returns the CopyData frame to send to the client — `frame` itself when nothing
   * changed — or null when no complete row is there yet (nothing to send). Throws CopyMaskError.
   */
  data(frame: Buffer, buf: Buffer, start: number, length: number): Buffer | null {
    if (this.failure) return null;
    try {
      let src = buf.subarray(start, start + length);
      const carried = this.carry !== null;
      if (this.carry) {
        src = Buffer.concat([this.carry, src]);
        this.carry = null;
      }
      const rw = new Rewrite(src);
      const done = this.consume(src, rw);
      if (done < src.length) {
        if (src.length - done > this.maxCarry) {
          throw new CopyMaskError(
            'carry-overflow',
            `COPY row longer than ${this.maxCarry} bytes split across messages`,
          );
        }
        // A copy: the reader may reuse the memory behind `buf`.
        this.carry = Buffer.from(src.subarray(done));
      }
      if (!carried && !rw.changed && done === src.length) return frame;
      if (done === 0) return null;
      return rw.frame(done);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** CopyDone from the server: a last CopyData frame to send before it, or null. Throws CopyMaskError. */
  end(): Buffer | null {
    if (this.failure) return null;
    try {
      const rest = this.carry;
      this.carry = null;
      if (this.format === 'binary') {
        if (rest || this.binState !== 2)
          throw new CopyMaskError('malformed', 'COPY binary data ended inside a tuple or without its trailer');
        return null;
      }
      if (!rest || rest.length === 0) return null;
      // A last row without its newline (PostgreSQL always sends one; kept valid anyway).
      const rw = new Rewrite(rest);
      if (this.format === 'csv') this.csvRow(rest, 0, rest.length, rw);
      else this.textRow(rest, 0, rest.length, rw);
      return rw.frame(rest.length);
    } catch (err) {
      throw this.fail(err);
    }
  }

  private fail(err: unknown): CopyMaskError {
    const e =
      err instanceof CopyMaskError
        ? err
        : new CopyMaskError('malformed', `COPY data could not be parsed: ${String(err)}`);
    this.failure = e;
    this.carry = null;
    return e;
  }

  /** Processes the complete rows of `src`; returns where the incomplete rest begins. */
  private consume(src: Buffer, rw: Rewrite): number {
    const e = src.length;
    let p = 0;
    if (this.format === 'text') {
      for (;;) {
        const nl = src.indexOf(0x0a, p);
        if (nl < 0) return p;
        this.textRow(src, p, nl, rw);
        p = nl + 1;
      }
    }
    if (this.format === 'csv') {
      for (;;) {
        const nl = csvRowEnd(src, p, e, this.csv);
        if (nl < 0) return p;
        this.csvRow(src, p, nl, rw);
        p = nl + 1;
      }
    }
    for (;;) {
      if (this.binState === 0) {
        const h = binaryHeaderLength(src, p, e);
        if (h < 0) return p;
        p += h;
        this.binState = 1;
      }
      if (this.binState === 2) {
        if (p < e) throw new CopyMaskError('malformed', 'COPY binary data after the trailer');
        return p;
      }
      if (e - p < 2) return p;
      const count = src.readInt16BE(p);
      if (count === -1) {
        p += 2;
        this.binState = 2;
        continue;
      }
      if (count !== this.ncols)
        throw new CopyMaskError('malformed', `COPY binary tuple has ${count} fields, expected ${this.ncols}`);
      const end = binaryTupleEnd(src, p, e, count);
      if (end < 0) return p;
      this.binaryTuple(src, p, end, rw);
      p = end;
    }
  }

  /** Which modes apply to the next row, whether to record it; null when the row needs no look. */
  private rowMode(): { modes: readonly CellMode[] | null; record: boolean } | null {
    if (this.headerPending) {
      this.headerPending = false;
      // Column names: no values, but detectors still run (a name could be anything).
      return this.masker ? { modes: new Array<CellMode>(this.ncols).fill(CellMode.DetectText), record: false } : null;
    }
    this.rowCount++;
    const record = this.rows.length < this.keepRows;
    if (this.modes === null && !record) return null;
    return { modes: this.modes, record };
  }

  private textRow(src: Buffer, rs: number, re: number, rw: Rewrite): void {
    const how = this.rowMode();
    if (how === null) return;
    const f = this.scratch;
    const n = this.ncols === 0 && rs === re ? 0 : splitTextRow(src, rs, re, this.delim, f);
    if (n !== this.ncols) throw new CopyMaskError('malformed', `COPY row has ${n} fields, expected ${this.ncols}`);
    let results: CellResult[] | null = null;
    const values: Row | null = how.record ? [] : null;
    for (let i = 0; i < n; i++) {
      const fs = f[i * 3]!;
      const fe = f[i * 3 + 1]!;
      if (this.isNull(src, fs, fe)) {
        values?.push(null);
        continue;
      }
      const text = f[i * 3 + 2] ? decodeTextField(src, fs, fe) : null;
      const r = how.modes ? maskTextField(this.masker!, how.modes[i] ?? CellMode.DetectText, text, src, fs, fe) : KEEP;
      if (r !== KEEP) {
        results ??= new Array<CellResult>(n).fill(KEEP);
        results[i] = r;
      }
      values?.push(r === KEEP ? (text ?? src.toString('utf8', fs, fe)) : typeof r === 'string' ? r : null);
    }
    if (values) this.rows.push(values);
    if (results === null) return;
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      if (i > 0) parts.push(this.delimBuf);
      const r = results[i];
      if (r === KEEP) parts.push(src.subarray(f[i * 3]!, f[i * 3 + 1]!));
      else if (typeof r === 'string') parts.push(encodeTextField(r, this.delim));
      else parts.push(this.nullBytes);
    }
    rw.replace(rs, re, Buffer.concat(parts));
  }

  private csvRow(src: Buffer, rs: number, re: number, rw: Rewrite): void {
    const how = this.rowMode();
    if (how === null) return;
    const f = this.scratch;
    const n = this.ncols === 0 && rs === re ? 0 : splitCsvRow(src, rs, re, this.csv, f);
    if (n < 0) throw new CopyMaskError('malformed', 'COPY CSV row ends inside a quoted field');
    if (n !== this.ncols) throw new CopyMaskError('malformed', `COPY row has ${n} fields, expected ${this.ncols}`);
    let results: CellResult[] | null = null;
    const values: Row | null = how.record ? [] : null;
    for (let i = 0; i < n; i++) {
      const fs = f[i * 3]!;
      const fe = f[i * 3 + 1]!;
      const quoted = f[i * 3 + 2] !== 0;
      if (!quoted && this.isNull(src, fs, fe)) {
        values?.push(null);
        continue;
      }
      const text = quoted ? decodeCsvField(src, fs, fe, this.csv) : null;
      const r = how.modes ? maskTextField(this.masker!, how.modes[i] ?? CellMode.DetectText, text, src, fs, fe) : KEEP;
      if (r !== KEEP) {
        results ??= new Array<CellResult>(n).fill(KEEP);
        results[i] = r;
      }
      values?.push(r === KEEP ? (text ?? src.toString('utf8', fs, fe)) : typeof r === 'string' ? r : null);
    }
    if (values) this.rows.push(values);
    if (results === null) return;
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      if (i > 0) parts.push(this.delimBuf);
      const r = results[i];
      if (r === KEEP) parts.push(src.subarray(f[i * 3]!, f[i * 3 + 1]!));
      else if (typeof r === 'string')
        parts.push(encodeCsvField(r, this.csv, this.nullText, f[i * 3 + 2] !== 0, n === 1));
      else parts.push(this.nullBytes);
    }
    rw.replace(rs, re, Buffer.concat(parts));
  }

  private binaryTuple(src: Buffer, ts: number, te: number, rw: Rewrite): void {
    const how = this.rowMode();
    if (how === null) return;
    const n = this.ncols;
    let results: CellResult[] | null = null;
    const values: Row | null = how.record ? [] : null;
    let p = ts + 2;
    for (let i = 0; i < n; i++) {
      const len = src.readInt32BE(p);
      p += 4;
      if (len < 0) {
        values?.push(null);
        continue;
      }
      const r = how.modes ? maskBinaryField(this.masker!, how.modes[i] ?? CellMode.Null, src, p, len) : KEEP;
      if (r !== KEEP) {
        results ??= new Array<CellResult>(n).fill(KEEP);
        results[i] = r;
      }
      if (values) {
        if (r === KEEP) values.push(binaryFieldText(this.fields?.[i], src, p, len));
        else if (typeof r === 'string') values.push(r.startsWith('\u0001') ? r.slice(1) : r);
        else values.push(null);
      }
      p += len;
    }
    if (values) this.rows.push(values);
    if (results === null) return;
    const parts: Buffer[] = [src.subarray(ts, ts + 2)];
    p = ts + 2;
    for (let i = 0; i < n; i++) {
      const len = src.readInt32BE(p);
      const cellEnd = p + 4 + Math.max(len, 0);
      const r = results[i];
      if (r === KEEP) parts.push(src.subarray(p, cellEnd));
      else if (r === null) parts.push(NULL_CELL);
      else {
        const bytes = typeof r === 'string' ? Buffer.from(r, 'utf8') : r;
        const head = Buffer.allocUnsafe(4);
        head.writeInt32BE(bytes.length, 0);
        parts.push(head, bytes);
      }
      p = cellEnd;
    }
    rw.replace(ts, te, Buffer.concat(parts));
  }

  /** The raw field equals the NULL string (PostgreSQL compares before de-escaping). */
  private isNull(src: Buffer, s: number, e: number): boolean {
    const nb = this.nullBytes;
    if (e - s !== nb.length) return false;
    for (let i = 0; i < nb.length; i++) if (src[s + i] !== nb[i]) return false;
    return true;
  }
}

const NULL_CELL = Buffer.from([0xff, 0xff, 0xff, 0xff]);

/** The output being assembled from a source buffer: unchanged spans plus replacements. */
class Rewrite {
  changed = false;
  private readonly parts: Buffer[] = [];
  private at = 0;

  constructor(private readonly src: Buffer) {}

  replace(from: number, to: number, bytes: Buffer): void {
    if (from > this.at) this.parts.push(this.src.subarray(this.at, from));
    this.parts.push(bytes);
    this.at = to;
    this.changed = true;
  }

  /** A CopyData frame holding the output for `src[0, end)`. */
  frame(end: number): Buffer {
    if (end > this.at) this.parts.push(this.src.subarray(this.at, end));
    let size = 0;
    for (const p of this.parts) size += p.length;
    const out = Buffer.allocUnsafe(5 + size);
    out[0] = 0x64; // d
    out.writeInt32BE(4 + size, 1);
    let o = 5;
    for (const p of this.parts) {
      p.copy(out, o);
      o += p.length;
    }
    return out;
  }
}
