// An operation's audit entry data, written straight out as canonical JSON: every operation
// appends one, and the generic encoder (sorting keys, one JSON.stringify per value) was ~2% of the
// gateway's CPU per statement. The text is byte for byte what canonicalJsonWithoutSecrets gives
// for the same object (test/unit/gateway/operation-entry.test.ts checks it); none of these keys
// is secret-named, so nothing is stripped.
import { RawJson } from '../audit/index.js';
import { jsonString } from '../core/json-string.js';

export interface OperationEntryFields {
  op: string;
  kind: string;
  text: string;
  effect: string;
  rules: readonly string[];
  reasons: readonly string[];
  review?: string | undefined;
  issuer: string;
}

export function operationEntryData(f: OperationEntryFields): RawJson {
  // Keys in sorted order: effect, issuer, kind, op, reasons, review, rules, text.
  let out = `{"effect":${jsonString(f.effect)},"issuer":${jsonString(f.issuer)},"kind":${jsonString(f.kind)},"op":${jsonString(f.op)},"reasons":${stringArray(f.reasons)}`;
  if (f.review) out += `,"review":${jsonString(f.review)}`;
  return new RawJson(`${out},"rules":${stringArray(f.rules)},"text":${jsonString(f.text)}}`);
}

function stringArray(a: readonly string[]): string {
  if (a.length === 0) return '[]';
  let out = `[${jsonString(a[0]!)}`;
  for (let i = 1; i < a.length; i++) out += `,${jsonString(a[i]!)}`;
  return `${out}]`;
}
