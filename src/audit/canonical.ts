// Canonical JSON: object keys sorted, no whitespace, so one value always hashes the same way.
// Otherwise JSON.stringify's rules (undefined/functions dropped in objects, null in arrays,
// toJSON honoured, non-finite numbers as null).
import { jsonNumber, jsonString } from '../core/json-string.js';
import { isPlainObject, isSecretKey, stripSecrets } from './redact.js';

/** Already-canonical JSON text, embedded verbatim (the stored `data` column, hashed byte for byte). */
export class RawJson {
  constructor(readonly text: string) {}
}

export function canonicalJson(value: unknown): string {
  return finish(encode(value, new Set(), false));
}

/**
 * `canonicalJson(stripSecrets(value))` in one pass, without the intermediate copy (every audit
 * append runs this).
 */
export function canonicalJsonWithoutSecrets(value: unknown): string {
  return finish(encode(value, new Set(), true));
}

function finish(out: string | undefined): string {
  if (out === undefined) throw new TypeError('canonicalJson: value is not representable as JSON');
  return out;
}

/** `strip`: drop secret-named keys, as stripSecrets would (plain objects and arrays only). */
function encode(value: unknown, stack: Set<object>, strip: boolean): string | undefined {
  if (value instanceof RawJson) return value.text;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return jsonNumber(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const obj = value as { toJSON?: () => unknown };
  if (strip && !Array.isArray(value)) {
    // stripSecrets leaves other objects whole, and a plain object's own toJSON would see the
    // stripped copy: take the two-step path for those rare shapes so the result is identical.
    if (!isPlainObject(obj)) strip = false;
    else if (typeof obj.toJSON === 'function') return encode(stripSecrets(obj), stack, false);
  }
  if (typeof obj.toJSON === 'function') return encode(obj.toJSON(), stack, strip);
  if (stack.has(obj)) throw new TypeError('canonicalJson: circular structure');
  stack.add(obj);
  try {
    if (Array.isArray(value)) {
      let out = '[';
      for (let i = 0; i < value.length; i++) out += `${i > 0 ? ',' : ''}${encode(value[i], stack, strip) ?? 'null'}`;
      return `${out}]`;
    }
    let out = '{';
    let first = true;
    for (const key of Object.keys(obj).sort()) {
      if (strip && isSecretKey(key)) continue;
      const v = encode((obj as Record<string, unknown>)[key], stack, strip);
      if (v === undefined) continue;
      out += `${first ? '' : ','}${jsonString(key)}:${v}`;
      first = false;
    }
    return `${out}}`;
  } finally {
    stack.delete(obj);
  }
}
