// One result stream the client is receiving (a simple Query or one Execute): masks DataRows,
// CopyData and error texts on the way through, and collects what the recording keeps.

import type { GatewaySession, OperationResult } from '../../gateway/index.js';
import { type Masker, REDACTED, SHORTEST_DETECTABLE_NUMBER } from '../../masking/index.js';
import type { OutBuffer } from '../relay/index.js';
import { binaryFloatText, binaryIntText, binaryNumericText, byteaHexBytes } from './binary-text.js';
import { CellMode, type ColumnPlan } from './column-plan.js';
import type { CopyOutMasker, CopySpec } from './copy/index.js';
import { type FieldDescription, ProtocolError, walkDataRow } from './wire/index.js';

const NULL_CELL = null;

export class ResultContext {
  plan: ColumnPlan | null = null;
  fields: FieldDescription[] | null = null;
  /** True once the row shape is known (or known to be unknowable). */
  planned = false;
  rows: unknown[][] = [];
  rowCount = 0;
  /** COPY … TO STDOUT statements of this result, in order, with their column plans (masked
   * sessions only), and the one streaming now. */
  copies: { spec: CopySpec; plan: ColumnPlan | null }[] = [];
  copier: CopyOutMasker | null = null;
  /** Index (in `text`) of the statement whose result is arriving: one per CommandComplete. */
  statement = 0;

  constructor(
    readonly session: GatewaySession,
    readonly opId: string,
    readonly masker: Masker | null,
    private readonly keepRows: number,
    /** The statement's text as the client sent it (error texts quoting other values are masked). */
    readonly text: string,
  ) {}

  setFields(fields: FieldDescription[] | null, plan: ColumnPlan | null): void {
    this.fields = fields;
    this.plan = plan;
    this.planned = true;
    this.rows = [];
    this.rowCount = 0;
  }

  /**
   * Appends the DataRow `buf[frameStart, start + length)` (payload from `start`) to send to
   * `out`: the original bytes when nothing needs masking, else the row with its cells masked,
   * built in place (no per-row or per-cell Buffers, not even a view of the frame).
   */
  dataRow(out: OutBuffer, buf: Buffer, frameStart: number, start: number, length: number): void {
    this.rowCount++;
    const masker = this.masker;
    const plan = this.plan;
    // Rows with no known description: every cell goes through the content detectors.
    const modes = masker === null ? null : plan === null ? DETECT_ALL : plan.active ? plan.modes : null;
    if (modes === null) {
      out.pushFrom(buf, frameStart, start + length);
      if (this.rows.length < this.keepRows) this.rows.push(decodeRow(buf, start, length, this.fields));
      return;
    }
    const rowStart = writeMaskedRow(out, masker!, modes, buf, start, length);
    if (this.rows.length < this.keepRows)
      this.rows.push(decodeRow(out.buf, rowStart + 5, out.off - rowStart - 5, this.fields));
  }

  /** CopyDone of a masked COPY: its (masked) rows go to the recording like a result's. */
  copyDone(copier: CopyOutMasker): void {
    this.rows = copier.rows.slice(0, this.keepRows);
    this.rowCount = copier.rowCount;
    this.copier = null;
  }

  /** CommandComplete: hand the statement's result to the recording and start afresh. */
  complete(command: string): void {
    const result: OperationResult = { command };
    if (this.fields) result.columns = columnNames(this.fields);
    if (this.rows.length) result.rows = this.rows;
    result.rowCount = this.rowCount;
    this.session.recordResult(this.opId, result);
    this.rows = [];
    this.rowCount = 0;
    this.statement++;
  }

  error(message: string): void {
    this.session.recordResult(this.opId, { error: message });
  }

  /** CopyData from the server (COPY … TO STDOUT): content detectors on the line. */
  copyData(frame: Buffer, buf: Buffer, start: number, length: number): Buffer {
    const masker = this.masker;
    this.rowCount++;
    if (!masker) return frame;
    const masked = masker.maskTextMaybe(buf, start, start + length);
    const out = masked ? copyDataMessage(masked) : frame;
    if (this.rows.length < this.keepRows)
      this.rows.push([(masked ?? buf.subarray(start, start + length)).toString('utf8')]);
    return out;
  }
}

/** A row shape's column names, made once per shape (RowShapes shares a shape's fields). */
const namesOfFields = new WeakMap<FieldDescription[], readonly string[]>();

function columnNames(fields: FieldDescription[]): readonly string[] {
  let names = namesOfFields.get(fields);
  if (names === undefined) {
    names = Object.freeze(fields.map((f) => f.name));
    namesOfFields.set(fields, names);
  }
  return names;
}

/** Cell modes when the row shape is unknown: detectors on every cell (see CellMode). */
const DETECT_ALL: readonly CellMode[] = [];

/**
 * Writes the DataRow `buf[start, start + length)` (payload coordinates) to `out` with each cell
 * passed through its mode; returns where the written message starts in `out.buf` (it ends at `out.off`).
 */
function writeMaskedRow(
  out: OutBuffer,
  masker: Masker,
  modes: readonly CellMode[],
  buf: Buffer,
  start: number,
  length: number,
): number {
  if (start < 5 || length < 2 || start + length > buf.length)
    throw new ProtocolError('malformed-message', 'DataRow is truncated');
  const end = start + length;
  const count = buf.readInt16BE(start);
  if (count < 0) throw new ProtocolError('malformed-message', 'negative column count');
  let rowStart = out.off;
  rowStart += out.ensure(rowStart, 7 + length);
  const head = out.buf;
  head[rowStart] = 0x44; // D
  head[rowStart + 5] = count >>> 8;
  head[rowStart + 6] = count;
  out.off = rowStart + 7;
  try {
    let p = start + 2;
    // Unchanged cells (and NULLs) are not written one by one: their bytes, headers included, are
    // the same in the output, so a run of them is copied in one go when a changed cell or the
    // row's end is reached. `runFrom` is where the pending run starts in `buf`.
    let runFrom = p;
    for (let i = 0; i < count; i++) {
      if (p + 4 > end) throw new ProtocolError('malformed-message', 'DataRow is truncated');
      const cellAt = p;
      const n = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
      p += 4;
      if (n < -1 || (n > 0 && p + n > end))
        throw new ProtocolError('malformed-message', 'DataRow cell overruns the message');
      const mode = modes[i] ?? CellMode.DetectText;
      if (mode === CellMode.RedactText && n >= 0) {
        // A column masked by name (every row of a bulk read): redacted byte to byte when it can be.
        rowStart += flushRun(out, rowStart, buf, runFrom, cellAt);
        runFrom = cellAt;
        rowStart += out.ensure(rowStart, 4 + n + 3);
        const dst = out.buf;
        const o = out.off;
        const written = masker.redactColumnInto(buf, p, n, dst, o + 4);
        if (written >= 0) {
          putInt32(dst, o, written);
          out.off = o + 4 + written;
          p += n;
          runFrom = p;
          continue;
        }
      }
      const r = n < 0 ? undefined : maskCell(masker, mode, buf, p, n);
      if (n > 0) p += n;
      // Unchanged (or NULL): part of the pending run.
      if (r === undefined) continue;
      rowStart += flushRun(out, rowStart, buf, runFrom, cellAt);
      runFrom = p;
      if (r === null) {
        rowStart += out.ensure(rowStart, 4);
        putInt32(out.buf, out.off, -1);
        out.off += 4;
      } else if (typeof r === 'string') {
        rowStart += out.ensure(rowStart, 4 + r.length * 3);
        const dst = out.buf;
        const o = out.off;
        const written = putUtf8(dst, o + 4, r);
        putInt32(dst, o, written);
        out.off = o + 4 + written;
      } else {
        rowStart += out.ensure(rowStart, 4 + r.length);
        const dst = out.buf;
        const o = out.off;
        putInt32(dst, o, r.length);
        copyBytes(r, 0, dst, o + 4, r.length);
        out.off = o + 4 + r.length;
      }
    }
    rowStart += flushRun(out, rowStart, buf, runFrom, p);
    if (p !== end) throw new ProtocolError('malformed-message', 'DataRow has trailing bytes');
  } catch (err) {
    out.off = rowStart; // drop the partial row
    throw err;
  }
  putInt32(out.buf, rowStart + 1, out.off - rowStart - 1);
  return rowStart;
}

/** Copies the unchanged cells `buf[from, to)` to `out`; returns how far `rowStart` moved (see ensure). */
function flushRun(out: OutBuffer, rowStart: number, buf: Buffer, from: number, to: number): number {
  const size = to - from;
  if (size === 0) return 0;
  const moved = out.ensure(rowStart, size);
  copyBytes(buf, from, out.buf, out.off, size);
  out.off += size;
  return moved;
}

// Byte helpers for the per-cell path: Buffer's methods validate their arguments on every call,
// which costs more than the work for the short values of a typical row.

function putInt32(dst: Buffer, o: number, v: number): void {
  dst[o] = v >>> 24;
  dst[o + 1] = v >>> 16;
  dst[o + 2] = v >>> 8;
  dst[o + 3] = v;
}

// Measured here: Buffer#copy costs ~110 ns whatever the size, the byte loop ~1.4 ns a byte.
function copyBytes(src: Buffer, s: number, dst: Buffer, o: number, n: number): void {
  if (n > 80) {
    src.copy(dst, o, s, s + n);
    return;
  }
  for (let i = 0; i < n; i++) dst[o + i] = src[s + i]!;
}

/** UTF-8 of `text` at `dst[o]` (room for text.length * 3 bytes is ensured); returns its length. */
function putUtf8(dst: Buffer, o: number, text: string): number {
  const n = text.length;
  if (n <= 64) {
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      dst[o + i] = c;
    }
    if (i === n) return n;
  }
  return dst.write(text, o, 'utf8');
}

/** A cell's replacement: text to write, bytes to write, null for SQL NULL, undefined to keep. */
function maskCell(
  masker: Masker,
  mode: CellMode,
  buf: Buffer,
  s: number,
  n: number,
): string | Buffer | null | undefined {
  switch (mode) {
    case CellMode.Pass:
      return undefined;
    case CellMode.DetectText:
      return masker.maskTextOf(buf, s, s + n) ?? undefined;
    case CellMode.NumberOrNull:
      if (n < SHORTEST_DETECTABLE_NUMBER) return undefined;
      return masker.maskTextOf(buf, s, s + n) !== null ? NULL_CELL : undefined;
    case CellMode.DetectOrNull:
      return masker.maskTextOf(buf, s, s + n) !== null ? NULL_CELL : undefined;
    case CellMode.DetectJson: {
      // jsonb in binary format starts with a version byte (1).
      const off = buf[s] === 1 ? 1 : 0;
      const text = buf.toString('utf8', s + off, s + n);
      const masked = masker.maskJsonText(text);
      if (masked === text) return undefined;
      return off ? `\u0001${masked}` : masked;
    }
    case CellMode.RedactText:
      return masker.redactColumnValue(buf.toString('utf8', s, s + n));
    case CellMode.Null:
      return NULL_CELL;
    case CellMode.RedactAll:
      return REDACTED;
    case CellMode.BinaryIntOrNull:
      return detectedIn(masker, binaryIntText(buf, s, n)) ? NULL_CELL : undefined;
    case CellMode.BinaryFloatOrNull:
      return detectedIn(masker, binaryFloatText(buf, s, n)) ? NULL_CELL : undefined;
    case CellMode.BinaryNumericOrNull:
      return detectedIn(masker, binaryNumericText(buf, s, n)) ? NULL_CELL : undefined;
    case CellMode.BytesOrNull:
      return masker.maskTextOf(buf, s, s + n) !== null ? NULL_CELL : undefined;
    case CellMode.HexOrNull: {
      const bytes = byteaHexBytes(buf, s, n);
      const hit = bytes ? masker.maskTextOf(bytes, 0, bytes.length) : masker.maskTextOf(buf, s, s + n);
      return hit !== null ? NULL_CELL : undefined;
    }
  }
}

function detectedIn(masker: Masker, text: string | null): boolean {
  return text !== null && masker.maskText(text) !== text;
}

function decodeRow(buf: Buffer, start: number, length: number, fields: FieldDescription[] | null): unknown[] {
  const row: unknown[] = [];
  walkDataRow(buf, start, length, (col, s, n) => {
    if (n < 0) row.push(null);
    else if ((fields?.[col]?.format ?? 0) === 1) row.push(`\\x${buf.toString('hex', s, s + n)}`);
    else row.push(buf.toString('utf8', s, s + n));
  });
  return row;
}

function copyDataMessage(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0x64; // d
  out.writeInt32BE(4 + payload.length, 1);
  payload.copy(out, 5);
  return out;
}
