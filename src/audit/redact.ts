// Audit data must never hold a secret. Callers are responsible; this is the safety net: keys
// that name a credential are dropped, at any depth.
const SECRET_KEY = /(password|passwd|secret|token|privatekey|apikey|authorization|cookie)$/;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[-_]/g, ''));
}

export function stripSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => stripSecrets(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!isSecretKey(k)) out[k] = stripSecrets(v);
  }
  return out as T;
}
