// One result stream the client is receiving (a simple Query or one Execute): masks DataRows,
// CopyData and error texts on the way through, and collects what the recording keeps.
import type { Masker } from '../../masking/index.js';
import type { GatewaySession } from '../../gateway/index.js';
import { binaryFloatText, binaryIntText, binaryNumericText, byteaHexBytes } from './binary-text.js';
import { CellMode, type ColumnPlan } from './column-plan.js';
import { type FieldDescription, rewriteDataRow, walkDataRow } from './wire/index.js';

const NULL_CELL = null;

export class ResultContext {
  plan: ColumnPlan | null = null;
  fields: FieldDescription[] | null = null;
  /** True once the row shape is known (or known to be unknowable). */
  planned = false;
  rows: unknown[][] = [];
  rowCount = 0;

  constructor(
    readonly session: GatewaySession,
    readonly opId: string,
    readonly masker: Masker | null,
    private readonly keepRows: number,
  ) {}

  setFields(fields: FieldDescription[] | null, plan: ColumnPlan | null): void {
    this.fields = fields;
    this.plan = plan;
    this.planned = true;
    this.rows = [];
    this.rowCount = 0;
  }

  /** Returns the DataRow to send: a view of the original frame when nothing changed. */
  dataRow(frame: Buffer, buf: Buffer, start: number, length: number): Buffer {
    this.rowCount++;
    let out = frame;
    const masker = this.masker;
    if (masker) {
      const plan = this.plan;
      if (plan?.active) {
        const modes = plan.modes;
        out = rewriteDataRow(buf, start, length, (col, s, n) => maskCell(masker, modes[col] ?? CellMode.DetectText, buf, s, n));
      } else if (!plan) {
        // Rows with no known description: every cell goes through the content detectors.
        out = rewriteDataRow(buf, start, length, (_c, s, n) => maskCell(masker, CellMode.DetectText, buf, s, n));
      }
    }
    if (this.rows.length < this.keepRows) this.rows.push(decodeRow(out, 5, out.length - 5, this.fields));
    return out;
  }

  /** CommandComplete: hand the statement's result to the recording and start afresh. */
  complete(command: string): void {
    this.session.recordResult(this.opId, {
      command,
      ...(this.fields ? { columns: this.fields.map((f) => f.name) } : {}),
      ...(this.rows.length ? { rows: this.rows } : {}),
      rowCount: this.rowCount,
    });
    this.rows = [];
    this.rowCount = 0;
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
    if (this.rows.length < this.keepRows) this.rows.push([(masked ?? buf.subarray(start, start + length)).toString('utf8')]);
    return out;
  }
}

function maskCell(masker: Masker, mode: CellMode, buf: Buffer, s: number, n: number): Buffer | null | undefined {
  if (n < 0) return undefined; // SQL NULL stays NULL
  switch (mode) {
    case CellMode.Pass:
      return undefined;
    case CellMode.DetectText: {
      const m = masker.maskTextMaybe(buf, s, s + n);
      return m ?? undefined;
    }
    case CellMode.DetectOrNull:
      return masker.maskTextMaybe(buf, s, s + n) ? NULL_CELL : undefined;
    case CellMode.DetectJson: {
      // jsonb in binary format starts with a version byte (1).
      const off = buf[s] === 1 ? 1 : 0;
      const text = buf.toString('utf8', s + off, s + n);
      const masked = masker.maskJsonText(text);
      if (masked === text) return undefined;
      const body = Buffer.from(masked, 'utf8');
      return off ? Buffer.concat([Buffer.from([1]), body]) : body;
    }
    case CellMode.RedactText:
      return Buffer.from(masker.redactColumnValue(buf.toString('utf8', s, s + n)), 'utf8');
    case CellMode.Null:
      return NULL_CELL;
    case CellMode.BinaryIntOrNull:
      return detectedIn(masker, binaryIntText(buf, s, n)) ? NULL_CELL : undefined;
    case CellMode.BinaryFloatOrNull:
      return detectedIn(masker, binaryFloatText(buf, s, n)) ? NULL_CELL : undefined;
    case CellMode.BinaryNumericOrNull:
      return detectedIn(masker, binaryNumericText(buf, s, n)) ? NULL_CELL : undefined;
    case CellMode.BytesOrNull:
      return masker.maskTextMaybe(buf, s, s + n) ? NULL_CELL : undefined;
    case CellMode.HexOrNull: {
      const bytes = byteaHexBytes(buf, s, n);
      const hit = bytes ? masker.maskTextMaybe(bytes) : masker.maskTextMaybe(buf, s, s + n);
      return hit ? NULL_CELL : undefined;
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
