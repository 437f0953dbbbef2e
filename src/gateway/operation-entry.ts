// An operation's audit entry data, written straight out as canonical JSON: every operation
// appends one, and the generic encoder (sorting keys, one JSON.stringify per value) was ~2% of the
// gateway's CPU per statement. The text is byte for byte what canonicalJsonWithoutSecrets gives
// for the same object (test/unit/gateway/operation-entry.test.ts checks it); none of these keys
// is secret-named, so nothing is stripped.
import { RawJson } from '../audit/index.js';

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
  let out = `{"effect":${JSON.stringify(f.effect)},"issuer":${JSON.stringify(f.issuer)},"kind":${JSON.stringify(f.kind)},"op":${JSON.stringify(f.op)},"reasons":${stringArray(f.reasons)}`;
  if (f.review) out += `,"review":${JSON.stringify(f.review)}`;
  return new RawJson(`${out},"rules":${stringArray(f.rules)},"text":${JSON.stringify(f.text)}}`);
}

function stringArray(a: readonly string[]): string {
  if (a.length === 0) return '[]';
  let out = `[${JSON.stringify(a[0])}`;
  for (let i = 1; i < a.length; i++) out += `,${JSON.stringify(a[i])}`;
  return `${out}]`;
}
