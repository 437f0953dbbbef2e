// The operation entry's hand-written canonical JSON must be byte for byte what the generic
// encoder gives: the chain hashes the stored text, and `audit verify` recomputes nothing from
// objects, but an entry read back and re-encoded (export, anchors, other tools) must match.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJsonWithoutSecrets } from '../../../src/audit/index.js';
import { type OperationEntryFields, operationEntryData } from '../../../src/gateway/operation-entry.js';

const awkward = [
  '',
  'SELECT 1',
  'select "quoted", \'single\' -- comment',
  'back\\slash and "quotes"',
  'new\nline\ttab\r\u0000nul\u001f',
  'emoji 😀 and ñ, 中文, \u2028\u2029',
  'lone surrogate \ud800 end',
  '{"looks":"like json"}',
];

function cases(): OperationEntryFields[] {
  const out: OperationEntryFields[] = [];
  for (const text of awkward)
    for (const review of [undefined, '', 'r_0123456789ab01234567', text])
      for (const rules of [[], ['mask-email'], ['a', text, 'b']])
        out.push({
          op: `op_${text.length}`,
          kind: text ? 'sql' : 'http',
          text,
          effect: 'allow',
          rules,
          reasons: text.length % 2 ? ['masked', text] : [],
          review,
          issuer: text || 'https://issuer.example',
        });
  return out;
}

test('operationEntryData is exactly the canonical JSON of the same object', () => {
  for (const f of cases()) {
    const obj: Record<string, unknown> = {
      op: f.op,
      kind: f.kind,
      text: f.text,
      effect: f.effect,
      rules: f.rules,
      reasons: f.reasons,
      issuer: f.issuer,
    };
    if (f.review) obj.review = f.review;
    assert.equal(operationEntryData(f).text, canonicalJsonWithoutSecrets(obj), JSON.stringify(f));
    assert.deepEqual(JSON.parse(operationEntryData(f).text), obj);
  }
});
