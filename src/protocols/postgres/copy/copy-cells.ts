// One COPY field through its CellMode (column-plan.ts), the same decisions DataRows get in
// result.ts: a masked text value becomes redacted text, a masked other value becomes NULL.
import { type Masker, REDACTED } from '../../../masking/index.js';
import { binaryFloatText, binaryIntText, binaryNumericText, byteaHexBytes } from '../binary-text.js';
import { CellMode } from '../column-plan.js';

/** Keep the field as it is. */
export const KEEP = undefined;
/** What a field becomes: new text, new bytes (binary), null for SQL NULL, KEEP (undefined). */
export type CellResult = string | Buffer | null | undefined;

/**
 * A text-format (text/CSV) field whose value is `text` (decoded) or, when `text` is null, the raw
 * UTF-8 bytes `buf[s, e)` (the field had no escapes, so raw is the value).
 */
export function maskTextField(
  masker: Masker,
  mode: CellMode,
  text: string | null,
  buf: Buffer,
  s: number,
  e: number,
): CellResult {
  switch (mode) {
    case CellMode.Pass:
      return KEEP;
    case CellMode.RedactText:
      return masker.redactColumnValue(text ?? buf.toString('utf8', s, e));
    case CellMode.RedactAll:
      return REDACTED;
    case CellMode.Null:
      return null;
    case CellMode.DetectJson: {
      const v = text ?? buf.toString('utf8', s, e);
      const masked = masker.maskJsonText(v);
      return masked === v ? KEEP : masked;
    }
    case CellMode.NumberOrNull:
    case CellMode.DetectOrNull:
      return detects(masker, text, buf, s, e) ? null : KEEP;
    case CellMode.HexOrNull: {
      const raw = text === null ? buf.subarray(s, e) : Buffer.from(text, 'utf8');
      const bytes = byteaHexBytes(raw, 0, raw.length);
      return (bytes ? masker.maskTextOf(bytes, 0, bytes.length) : masker.maskTextOf(raw, 0, raw.length)) !== null
        ? null
        : KEEP;
    }
    case CellMode.DetectText:
      if (text !== null) {
        const masked = masker.maskText(text);
        return masked === text ? KEEP : masked;
      }
      return masker.maskTextOf(buf, s, e) ?? KEEP;
    default:
      // Binary modes never reach a text-format COPY; if one does, treat the value as sensitive.
      return null;
  }
}

function detects(masker: Masker, text: string | null, buf: Buffer, s: number, e: number): boolean {
  if (text !== null) return masker.maskText(text) !== text;
  return masker.maskTextOf(buf, s, e) !== null;
}

/** A binary-format field `buf[s, s + n)` (n >= 0). */
export function maskBinaryField(masker: Masker, mode: CellMode, buf: Buffer, s: number, n: number): CellResult {
  switch (mode) {
    case CellMode.Pass:
      return KEEP;
    case CellMode.DetectText:
      return masker.maskTextOf(buf, s, s + n) ?? KEEP;
    case CellMode.RedactText:
      return masker.redactColumnValue(buf.toString('utf8', s, s + n));
    case CellMode.RedactAll:
      return REDACTED;
    case CellMode.Null:
      return null;
    case CellMode.DetectJson: {
      // jsonb's binary form starts with a version byte (1); json's is plain text.
      const off = buf[s] === 1 ? 1 : 0;
      const text = buf.toString('utf8', s + off, s + n);
      const masked = masker.maskJsonText(text);
      if (masked === text) return KEEP;
      return off ? `\u0001${masked}` : masked;
    }
    case CellMode.BinaryIntOrNull:
      return detectsText(masker, binaryIntText(buf, s, n)) ? null : KEEP;
    case CellMode.BinaryFloatOrNull:
      return detectsText(masker, binaryFloatText(buf, s, n)) ? null : KEEP;
    case CellMode.BinaryNumericOrNull:
      return detectsText(masker, binaryNumericText(buf, s, n)) ? null : KEEP;
    default:
      // BytesOrNull, and text-format modes should a plan be built with the wrong format.
      return masker.maskTextOf(buf, s, s + n) !== null ? null : KEEP;
  }
}

function detectsText(masker: Masker, text: string | null): boolean {
  return text !== null && masker.maskText(text) !== text;
}
