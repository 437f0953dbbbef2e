// A resolved config holds target credentials; anything that prints or returns it goes through here.
import type { WardenConfig } from './schema.js';

const SECRET_KEYS = new Set(['password', 'token', 'privatekey', 'secret']);
const REDACTED = '***';

/**
 * Deep copy of `cfg` with every password/token/privateKey/secret value, every value of a connection's
 * `headers` (they usually carry credentials) and the password in a URL replaced by '***'.
 */
export function redactConfig(cfg: WardenConfig): WardenConfig {
  return redactValue(cfg, '') as WardenConfig;
}

function redactValue(value: unknown, key: string): unknown {
  if (SECRET_KEYS.has(key.toLowerCase())) return value === undefined || value === null ? value : REDACTED;
  if (key === 'headers' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]));
  }
  if (typeof value === 'string') return redactUrlPassword(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, ''));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, k);
    return out;
  }
  return value;
}

// postgres://user:pass@host/db (the store, a webhook) carries a password in the URL.
function redactUrlPassword(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]+@/i, `$1:${REDACTED}@`);
}
