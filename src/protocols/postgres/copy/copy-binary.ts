// COPY binary format: an 11-byte signature, int32 flags, int32 header-extension length and the
// extension; then per tuple an int16 field count and per field an int32 length (-1 = NULL) and
// the bytes; an int16 -1 trailer ends the stream.
import { binaryFloatText, binaryIntText, binaryNumericText } from '../binary-text.js';
import type { FieldDescription } from '../wire/index.js';
import { CopyMaskError } from './copy-errors.js';

export const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIXED_HEADER = SIGNATURE.length + 8;
const FLAG_OIDS = 1 << 16;
/** Bits 16–31 are critical: a reader must reject flags it does not know. */
const CRITICAL = 0xffff0000 | 0;

/** Length of the file header at `buf[s…e)`, or -1 when it is not all there yet. */
export function binaryHeaderLength(buf: Buffer, s: number, e: number): number {
  const have = e - s;
  const sig = Math.min(have, SIGNATURE.length);
  if (buf.compare(SIGNATURE, 0, sig, s, s + sig) !== 0)
    throw new CopyMaskError('malformed', 'COPY binary signature is wrong');
  if (have < FIXED_HEADER) return -1;
  const flags = buf.readInt32BE(s + SIGNATURE.length);
  if ((flags & FLAG_OIDS) !== 0) throw new CopyMaskError('malformed', 'COPY binary with OIDs is not supported');
  if ((flags & CRITICAL) !== 0) throw new CopyMaskError('malformed', 'COPY binary header has unknown critical flags');
  const ext = buf.readInt32BE(s + SIGNATURE.length + 4);
  if (ext < 0) throw new CopyMaskError('malformed', 'COPY binary header extension length is negative');
  return have < FIXED_HEADER + ext ? -1 : FIXED_HEADER + ext;
}

/**
 * End offset of the tuple starting at `s` (its int16 count already checked to be `count`), or -1
 * when it is not all in `buf[s, e)`.
 */
export function binaryTupleEnd(buf: Buffer, s: number, e: number, count: number): number {
  let p = s + 2;
  for (let i = 0; i < count; i++) {
    if (p + 4 > e) return -1;
    const n = buf.readInt32BE(p);
    p += 4;
    if (n < -1) throw new CopyMaskError('malformed', 'COPY binary field has a negative length');
    if (n > 0) {
      if (p + n > e) return -1;
      p += n;
    }
  }
  return p;
}

const TEXT_TYPES = new Set([25, 1043, 1042, 19, 18, 705, 0, 114]);
const JSONB = 3802;
const BOOL = 16;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
/** 2000-01-01T00:00:00Z, PostgreSQL's epoch for binary dates and times. */
const PG_EPOCH_MS = 946_684_800_000;

/** A binary field as the recording shows it: text for text-like types, hex otherwise. */
export function binaryFieldText(field: FieldDescription | undefined, buf: Buffer, s: number, n: number): string {
  const t = field?.typeOID ?? -1;
  if (TEXT_TYPES.has(t)) return buf.toString('utf8', s, s + n);
  if (t === JSONB && buf[s] === 1) return buf.toString('utf8', s + 1, s + n);
  if (t === BOOL && n === 1) return buf[s] ? 't' : 'f';
  if ((t === TIMESTAMPTZ || t === TIMESTAMP) && n === 8) {
    const ms = Number(buf.readBigInt64BE(s) / 1000n) + PG_EPOCH_MS;
    if (Number.isFinite(ms) && Math.abs(ms) < 8.64e15) return new Date(ms).toISOString();
  }
  const shown =
    t === 20 || t === 21 || t === 23
      ? binaryIntText(buf, s, n)
      : t === 700 || t === 701
        ? binaryFloatText(buf, s, n)
        : t === 1700
          ? binaryNumericText(buf, s, n)
          : null;
  return shown ?? `\\x${buf.toString('hex', s, s + n)}`;
}
