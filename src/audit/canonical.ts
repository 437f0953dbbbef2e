// Canonical JSON: object keys sorted, no whitespace, so one value always hashes the same way.
// Otherwise JSON.stringify's rules (undefined/functions dropped in objects, null in arrays,
// toJSON honoured, non-finite numbers as null).

/** Already-canonical JSON text, embedded verbatim (the stored `data` column, hashed byte for byte). */
export class RawJson {
  constructor(readonly text: string) {}
}

export function canonicalJson(value: unknown): string {
  const out = encode(value, new Set());
  if (out === undefined) throw new TypeError('canonicalJson: value is not representable as JSON');
  return out;
}

function encode(value: unknown, stack: Set<object>): string | undefined {
  if (value instanceof RawJson) return value.text;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const obj = value as object & { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return encode(obj.toJSON(), stack);
  if (stack.has(obj)) throw new TypeError('canonicalJson: circular structure');
  stack.add(obj);
  try {
    if (Array.isArray(obj)) return `[${obj.map((v) => encode(v, stack) ?? 'null').join(',')}]`;
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const v = encode((obj as Record<string, unknown>)[key], stack);
      if (v !== undefined) parts.push(`${JSON.stringify(key)}:${v}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    stack.delete(obj);
  }
}
