// How each result column is treated when a response is masked. Built once per RowDescription;
// applied to every DataRow. Masking policy itself lives in the core Masker; this file only knows
// Postgres types and formats.
import type { Masker } from '../../masking/index.js';
import type { FieldDescription } from './wire/index.js';

// A plain object rather than a const enum: per-file transpilers (tsx) do not inline those.
export const CellMode = {
  /** Leave the bytes as they are. */
  Pass: 0,
  /** Text value: run content detectors, rewrite only if something matched. */
  DetectText: 1,
  /** json/jsonb: mask by keys and content, keep it valid JSON. */
  DetectJson: 2,
  /** Non-text value shown as text: if a detector matches, the value becomes NULL. */
  DetectOrNull: 3,
  /** Masked by column name, text type: replace with redacted text. */
  RedactText: 4,
  /** Masked by column name, non-text type: NULL. */
  Null: 5,
  /** Binary int2/int4/int8: detectors on the decimal digits; a match becomes NULL. */
  BinaryIntOrNull: 6,
  /** Binary float4/float8: as above. */
  BinaryFloatOrNull: 7,
  /** Binary numeric: as above. */
  BinaryNumericOrNull: 8,
  /** Any other binary value (bytea, arrays, records, …): detectors on the raw bytes; NULL on a match. */
  BytesOrNull: 9,
  /** bytea in text format: detectors on the decoded bytes; NULL on a match. */
  HexOrNull: 10,
  /** Text computed from a masked column (column lineage): `***`, never a partial form, which
   * would show part of whatever the expression built (`substr(email, 2, 1) || '@x.com'`). */
  RedactAll: 11,
  /** int, float or numeric in text format: as DetectOrNull, but a value shorter than
   * SHORTEST_DETECTABLE_NUMBER cannot match and is not scanned. */
  NumberOrNull: 12,
} as const;
export type CellMode = (typeof CellMode)[keyof typeof CellMode];

// Types whose values are plain UTF-8 text in both formats.
const TEXT_TYPES = new Set([25, 1043, 1042, 19, 18, 705, 0]);
const JSON_TYPES = new Set([114, 3802]);
const BYTEA = 17;
const INT_TYPES = new Set([20, 21, 23]);
const FLOAT_TYPES = new Set([700, 701]);
const NUMERIC = 1700;
// Values of these types cannot carry a detectable value in either format (bool, dates and
// times, intervals, uuid, oid, pg_lsn): passed through untouched instead of scanned.
const OPAQUE = new Set([16, 26, 1082, 1083, 1114, 1184, 1186, 1266, 2950, 3220]);

import type { SourceOf } from './column-sources.js';

export interface ColumnPlan {
  fields: FieldDescription[];
  modes: CellMode[];
  /** True when some column is not Pass (otherwise rows are forwarded untouched). */
  active: boolean;
}

export function buildColumnPlan(fields: FieldDescription[], masker: Masker, sources: readonly SourceOf[]): ColumnPlan {
  const modes = new Array<CellMode>(fields.length);
  let active = false;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as FieldDescription;
    const src = sources[i];
    const names = [f.name.toLowerCase()];
    if (src && src !== 'unknown')
      names.push(src.column, `${src.table}.${src.column}`, `${src.schema}.${src.table}.${src.column}`);
    const isText = TEXT_TYPES.has(f.typeOID);
    const isJson = JSON_TYPES.has(f.typeOID);
    let mode: CellMode;
    if (src === 'unknown' || masker.columnIsMasked(names)) mode = isText ? CellMode.RedactText : CellMode.Null;
    else if (isText) mode = CellMode.DetectText;
    else if (isJson) mode = CellMode.DetectJson;
    else if (OPAQUE.has(f.typeOID)) mode = CellMode.Pass;
    else if (f.format === 0) mode = textMode(f.typeOID);
    else mode = binaryMode(f.typeOID);
    modes[i] = mode;
    if (mode !== CellMode.Pass) active = true;
  }
  return { fields, modes, active };
}

function textMode(typeOID: number): CellMode {
  if (typeOID === BYTEA) return CellMode.HexOrNull;
  if (INT_TYPES.has(typeOID) || FLOAT_TYPES.has(typeOID) || typeOID === NUMERIC) return CellMode.NumberOrNull;
  return CellMode.DetectOrNull;
}

function binaryMode(typeOID: number): CellMode {
  if (INT_TYPES.has(typeOID)) return CellMode.BinaryIntOrNull;
  if (FLOAT_TYPES.has(typeOID)) return CellMode.BinaryFloatOrNull;
  if (typeOID === NUMERIC) return CellMode.BinaryNumericOrNull;
  return CellMode.BytesOrNull;
}

/** Apply result formats chosen at Bind to a statement-level RowDescription (all text there). */
export function withResultFormats(fields: FieldDescription[], formats: number[]): FieldDescription[] {
  if (formats.length === 0) return fields;
  const formatOf = (i: number) => (formats.length === 1 ? formats[0] : formats[i]) ?? 0;
  // Unchanged (the usual all-text case): the same array, so plans cached on it are found again.
  if (fields.every((f, i) => f.format === formatOf(i))) return fields;
  return fields.map((f, i) => ({ ...f, format: formatOf(i) }));
}
