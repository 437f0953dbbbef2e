// In-flight rewriting of server messages for masking. Hand-written for speed: a DataRow is rebuilt
// only when some cell actually changes; otherwise the original bytes are forwarded untouched.
// Inputs are payload coordinates as produced by MessageReader, so the 5-byte header sits at
// `start - 5`.
import { walkErrorFields } from './backend.js';
import { ProtocolError } from './errors.js';

/** Replacement for one cell: a Buffer = new value, null = SQL NULL, undefined = keep. */
export type CellRewrite = (col: number, cellStart: number, cellLength: number) => Buffer | null | undefined;

let scratch: Int32Array | null = new Int32Array(64);

function frameOf(buf: Buffer, start: number, length: number): Buffer {
  const frameStart = start - 5;
  const frameEnd = start + length;
  return frameStart === 0 && frameEnd === buf.length ? buf : buf.subarray(frameStart, frameEnd);
}

/**
 * Rewrite cells of a DataRow. Returns the message to forward: when no cell changes, the original
 * frame (the very `buf` when it holds exactly this message, else a view of it); otherwise a new
 * DataRow. `cellRewrite` is called once per column, in order (cellLength -1 = NULL).
 */
export function rewriteDataRow(buf: Buffer, start: number, length: number, cellRewrite: CellRewrite): Buffer {
  if (start < 5 || length < 2 || start + length > buf.length) {
    throw new ProtocolError('malformed-message', 'DataRow is truncated');
  }
  const end = start + length;
  const count = buf.readInt16BE(start);
  if (count < 0) throw new ProtocolError('malformed-message', 'negative column count');
  // Cell offsets are kept in a reused scratch array (a fresh one if cellRewrite re-enters).
  let offsets = scratch;
  scratch = null;
  if (offsets === null || offsets.length < count * 2) offsets = new Int32Array(Math.max(64, count * 2));
  try {
    let changes: (Buffer | null | undefined)[] | undefined;
    let newLength = length;
    let p = start + 2;
    for (let i = 0; i < count; i++) {
      if (p + 4 > end) throw new ProtocolError('malformed-message', 'DataRow is truncated');
      const n = buf.readInt32BE(p);
      p += 4;
      if (n < -1 || (n > 0 && p + n > end)) {
        throw new ProtocolError('malformed-message', 'DataRow cell overruns the message');
      }
      offsets[i * 2] = p;
      offsets[i * 2 + 1] = n;
      const r = cellRewrite(i, p, n);
      if (r !== undefined) {
        changes ??= new Array(count);
        changes[i] = r;
        newLength += (r === null ? 0 : r.length) - (n === -1 ? 0 : n);
      }
      if (n > 0) p += n;
    }
    if (p !== end) throw new ProtocolError('malformed-message', 'DataRow has trailing bytes');
    if (changes === undefined) return frameOf(buf, start, length);

    const out = Buffer.allocUnsafe(1 + 4 + newLength);
    out[0] = buf[start - 5]!;
    out.writeInt32BE(4 + newLength, 1);
    out.writeInt16BE(count, 5);
    let q = 7;
    for (let i = 0; i < count; i++) {
      const r = changes[i];
      if (r === undefined) {
        const s = offsets[i * 2]!;
        const n = offsets[i * 2 + 1]!;
        out.writeInt32BE(n, q);
        q += 4;
        if (n > 0) q += buf.copy(out, q, s, s + n);
      } else if (r === null) {
        out.writeInt32BE(-1, q);
        q += 4;
      } else {
        out.writeInt32BE(r.length, q);
        q += 4;
        q += r.copy(out, q);
      }
    }
    return out;
  } finally {
    scratch = offsets;
  }
}

/** Replacement for one error/notice field value (by one-letter code); undefined = keep. */
export type ErrorFieldRewrite = (fieldCode: string, value: string) => string | undefined;

/**
 * Rewrite fields of an ErrorResponse/NoticeResponse (e.g. mask M, D, H, W). Returns the original
 * frame when nothing changes, else a new message of the same type.
 */
export function rewriteErrorFields(buf: Buffer, start: number, length: number, rewrite: ErrorFieldRewrite): Buffer {
  if (start < 5 || start + length > buf.length) throw new ProtocolError('malformed-message', 'message is truncated');
  const parts: { code: number; value: string }[] = [];
  let changed = false;
  walkErrorFields(buf, start, length, (f, s, e) => {
    const value = buf.toString('utf8', s, e);
    const r = rewrite(String.fromCharCode(f), value);
    if (r !== undefined && r !== value) {
      if (r.includes('\0')) throw new TypeError('an error field value cannot contain NUL');
      changed = true;
      parts.push({ code: f, value: r });
    } else {
      parts.push({ code: f, value });
    }
  });
  if (!changed) return frameOf(buf, start, length);
  let size = 4 + 1;
  for (const part of parts) size += 1 + Buffer.byteLength(part.value, 'utf8') + 1;
  const out = Buffer.allocUnsafe(1 + size);
  out[0] = buf[start - 5]!;
  out.writeInt32BE(size, 1);
  let q = 5;
  for (const part of parts) {
    out[q++] = part.code;
    q += out.write(part.value, q, 'utf8');
    out[q++] = 0;
  }
  out[q] = 0;
  return out;
}
