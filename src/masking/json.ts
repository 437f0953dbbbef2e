// JSON masking: keys that name a masked column are redacted, keys that name a secret are
// replaced, every string (leaves and keys) goes through the detectors. Copy-on-write: an
// unchanged value comes back as the same instance, so callers can skip re-serializing.
import { SECRET_KEY } from './detectors/index.js';
import { MASKED_NON_TEXT, secretMarker } from './redact.js';

export interface JsonMaskContext {
  maskText(value: string): string;
  redactColumnValue(value: string): string;
  /** The key names a configured column (or one of the caller's extra keys). */
  keyIsMasked(key: string, extra: ReadonlySet<string> | null): boolean;
  /** The `secret` detector is on: values under `password`, `api_key`, … keys are replaced. */
  readonly maskSecretKeys: boolean;
}

/** Deeper than this, a subtree is replaced by null rather than risking the stack. */
const MAX_DEPTH = 1000;

export function maskJsonValue(ctx: JsonMaskContext, value: unknown, extra: ReadonlySet<string> | null): unknown {
  return walk(ctx, value, extra, 0);
}

function walk(ctx: JsonMaskContext, value: unknown, extra: ReadonlySet<string> | null, depth: number): unknown {
  if (typeof value === 'string') return ctx.maskText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return MASKED_NON_TEXT;
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const masked = walk(ctx, item, extra, depth + 1);
      if (masked !== item) {
        copy ??= value.slice();
        copy[i] = masked;
      }
    }
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const obj = value as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(obj)) {
    const item = obj[key];
    let masked: unknown;
    if (ctx.keyIsMasked(key, extra)) masked = redactUnderKey(ctx, item);
    else if (ctx.maskSecretKeys && SECRET_KEY.test(key) && isSecretScalar(item)) {
      masked = secretMarker(/^(pass|pwd)/i.test(key) ? 'password' : 'secret');
    } else masked = walk(ctx, item, extra, depth + 1);
    const maskedKey = ctx.maskText(key);
    if (masked !== item || maskedKey !== key) {
      copy ??= { ...obj };
      if (maskedKey !== key) delete copy[key];
      copy[maskedKey] = masked;
    }
  }
  return copy ?? value;
}

/** A masked column's value: text keeps a partial form, anything else becomes null. */
function redactUnderKey(ctx: JsonMaskContext, value: unknown): unknown {
  if (typeof value === 'string') return ctx.redactColumnValue(value);
  return value === null || value === undefined ? value : MASKED_NON_TEXT;
}

function isSecretScalar(value: unknown): boolean {
  return (typeof value === 'string' && value.length > 0) || typeof value === 'number';
}

/**
 * JSON text (a `row_to_json` cell, an HTTP body). Not JSON → plain maskText. Without masked
 * columns and without escapes, detectors over the raw text find exactly what they would find
 * in the parsed strings, so the parse is skipped.
 */
export function maskJsonTextWith(ctx: JsonMaskContext, text: string, hasColumns: boolean): string {
  let i = 0;
  while (i < text.length && isJsonSpace(text.charCodeAt(i))) i++;
  const c = text.charCodeAt(i);
  if (c !== 123 /* { */ && c !== 91 /* [ */) return ctx.maskText(text);
  if (!hasColumns && !text.includes('\\')) return ctx.maskText(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return ctx.maskText(text);
  }
  const masked = walk(ctx, parsed, null, 0);
  return masked === parsed ? text : JSON.stringify(masked);
}

function isJsonSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}
