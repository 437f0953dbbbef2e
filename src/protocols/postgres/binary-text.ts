// Text forms of non-text Postgres values, so content detectors can see a card number stored in an
// int8 or numeric column, or an email hidden in a bytea. Only what masking needs: a value whose
// text form matches a detector is sent as NULL, so these never have to round-trip.

/** int2/int4/int8 in binary format (big-endian, two's complement), by cell length. */
export function binaryIntText(buf: Buffer, s: number, n: number): string | null {
  if (n === 2) return String(buf.readInt16BE(s));
  if (n === 4) return String(buf.readInt32BE(s));
  if (n === 8) return buf.readBigInt64BE(s).toString();
  return null;
}

/** float4/float8 in binary format: integral values printed without exponent (as digits). */
export function binaryFloatText(buf: Buffer, s: number, n: number): string | null {
  const v = n === 4 ? buf.readFloatBE(s) : n === 8 ? buf.readDoubleBE(s) : Number.NaN;
  if (!Number.isFinite(v)) return null;
  return Number.isInteger(v) && Math.abs(v) < 1e21 ? BigInt(v).toString() : String(v);
}

const NUMERIC_NEG = 0x4000;

/** numeric in binary format: int16 ndigits, weight, sign, dscale, then base-10000 digits. */
export function binaryNumericText(buf: Buffer, s: number, n: number): string | null {
  if (n < 8) return null;
  const ndigits = buf.readInt16BE(s);
  const weight = buf.readInt16BE(s + 2);
  const sign = buf.readUInt16BE(s + 4);
  const dscale = buf.readInt16BE(s + 6);
  if (ndigits < 0 || n !== 8 + ndigits * 2 || (sign !== 0 && sign !== NUMERIC_NEG)) return null;
  let int = '';
  let frac = '';
  for (let i = 0; i < ndigits; i++) {
    const d = String(buf.readInt16BE(s + 8 + i * 2)).padStart(4, '0');
    if (i <= weight) int += d;
    else frac += d;
  }
  if (weight >= ndigits) int += '0000'.repeat(weight - ndigits + 1);
  if (weight < -1) frac = '0000'.repeat(-weight - 1) + frac;
  int = int.replace(/^0+(?=\d)/, '') || '0';
  frac = frac.slice(0, Math.max(0, dscale)).padEnd(Math.max(0, dscale), '0');
  return `${sign === NUMERIC_NEG ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** bytea in text format (`\x` hex) → its bytes; null for the legacy escape format. */
export function byteaHexBytes(buf: Buffer, s: number, n: number): Buffer | null {
  if (n < 2 || buf[s] !== 0x5c || buf[s + 1] !== 0x78) return null;
  return Buffer.from(buf.toString('latin1', s + 2, s + n), 'hex');
}
