// Shared pieces for the COPY masking unit tests: the shop masking plan, column shapes, and a
// driver that feeds payloads through a CopyOutMasker and collects what the client would get.
import { compileMasker } from '../../../src/masking/index.js';
import type { SourceOf } from '../../../src/protocols/postgres/column-sources.js';
import {
  CopyOutMasker,
  type CopySpec,
  copyColumnPlan,
  copySpecOf,
} from '../../../src/protocols/postgres/copy/index.js';
import type { FieldDescription } from '../../../src/protocols/postgres/wire/index.js';

export const masker = compileMasker({
  columns: ['email', 'phone', 'ssn', 'card_number'],
  detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'],
});

export const OID = {
  text: 25,
  varchar: 1043,
  int4: 23,
  int8: 20,
  numeric: 1700,
  timestamptz: 1184,
  bool: 16,
  jsonb: 3802,
  json: 114,
  bytea: 17,
};

/** A column: name, type, and whether it comes from public.customers (so masking by name applies). */
export type Col = [name: string, typeOID: number];

export function fieldsOf(cols: readonly Col[], format = 0): FieldDescription[] {
  return cols.map(([name, typeOID], i) => ({
    name,
    tableOID: 16384,
    attnum: i + 1,
    typeOID,
    typlen: -1,
    typmod: -1,
    format,
  }));
}

export function sourcesOf(cols: readonly Col[]): SourceOf[] {
  return cols.map(([name]) => ({ schema: 'public', table: 'customers', column: name }));
}

export function specOf(sql: string): CopySpec {
  const spec = copySpecOf(sql);
  if (!spec) throw new Error(`not a COPY TO STDOUT: ${sql}`);
  return spec;
}

export function frameOf(payload: Buffer): Buffer {
  const f = Buffer.alloc(5 + payload.length);
  f[0] = 0x64;
  f.writeInt32BE(4 + payload.length, 1);
  payload.copy(f, 5);
  return f;
}

export interface Ran {
  /** Client-side payloads, one per frame sent. */
  out: Buffer[];
  all: Buffer;
  rows: (string | null)[][];
  rowCount: number;
  copier: CopyOutMasker;
}

export function makeCopier(
  sql: string,
  cols: readonly Col[],
  opts: { keepRows?: number; maxCarry?: number; plan?: 'none'; noMasker?: boolean } = {},
): CopyOutMasker {
  const spec = specOf(sql);
  const binary = spec.format === 'binary';
  const plan =
    opts.plan === 'none' || opts.noMasker ? null : copyColumnPlan(spec, fieldsOf(cols), sourcesOf(cols), masker);
  return new CopyOutMasker({
    spec,
    response: { overallFormat: binary ? 1 : 0, columnFormats: cols.map(() => (binary ? 1 : 0)) },
    plan,
    masker: opts.noMasker ? null : masker,
    keepRows: opts.keepRows ?? 1000,
    ...(opts.maxCarry !== undefined ? { maxCarry: opts.maxCarry } : {}),
  });
}

/** Feeds each payload as one CopyData (embedded at an offset in a bigger buffer, as the reader does), then CopyDone. */
export function run(
  sql: string,
  cols: readonly Col[],
  payloads: readonly Buffer[],
  opts: Parameters<typeof makeCopier>[2] = {},
): Ran {
  const copier = makeCopier(sql, cols, opts);
  const out: Buffer[] = [];
  for (const p of payloads) {
    const frame = frameOf(p);
    // Surround the frame with junk so an overrun past the payload would show.
    const host = Buffer.concat([Buffer.from('JUNK\n@,-.4"'), frame, Buffer.from('\n@,-.4"JUNK')]);
    const view = host.subarray(11, 11 + frame.length);
    const r = copier.data(view, host, 11 + 5, p.length);
    if (r) out.push(checkedPayload(r));
  }
  const last = copier.end();
  if (last) out.push(checkedPayload(last));
  return { out, all: Buffer.concat(out), rows: copier.rows, rowCount: copier.rowCount, copier };
}

function checkedPayload(frame: Buffer): Buffer {
  if (frame[0] !== 0x64 || frame.readInt32BE(1) !== frame.length - 1)
    throw new Error('not a well-formed CopyData frame');
  return Buffer.from(frame.subarray(5));
}

/** `whole` cut into pieces at the given offsets. */
export function cut(whole: Buffer, at: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  for (const a of [...at].sort((x, y) => x - y)) {
    out.push(whole.subarray(p, a));
    p = a;
  }
  out.push(whole.subarray(p));
  return out;
}

export const SECRETS = [
  'ada@example.com',
  'alan@example.org',
  '123-45-6789',
  '219-09-9999',
  '4111 1111 1111 1111',
  '4111111111111111',
  '5555555555554444',
  '+1 415 555 0132',
  'alan.t@bletchley.example',
];

/** Original secrets (also with the escapes the formats may add) still present in `out`. */
export function leaks(out: Buffer | string): string[] {
  const text = out.toString();
  const undone = text.replace(/\\(.)/g, '$1');
  return SECRETS.filter((s) => text.includes(s) || undone.includes(s));
}
