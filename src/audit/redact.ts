// Audit data must never hold a secret. Callers are responsible; this is the safety net: keys
// that name a credential are dropped, at any depth.
const SECRET_KEY = /(password|passwd|secret|token|privatekey|apikey|authorization|cookie)$/;

// Keys come from a small, fixed vocabulary (event and result field names), and this runs for
// every audited or recorded event, so answers are remembered (bounded, for odd callers).
const known = new Map<string, boolean>();
const KNOWN_MAX = 4096;

export function isSecretKey(key: string): boolean {
  let secret = known.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key.toLowerCase().replace(/[-_]/g, ''));
    if (known.size < KNOWN_MAX) known.set(key, secret);
  }
  return secret;
}

/** Plain objects and arrays are copied without secret-named keys; anything else is kept as is. */
export function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function stripSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => stripSecrets(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!isSecretKey(k)) out[k] = stripSecrets(v);
  }
  return out as T;
}
