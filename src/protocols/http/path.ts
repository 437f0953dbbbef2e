// The request target as the upstream will resolve it (DESIGN §8, HTTP): unreserved
// percent-escapes decoded once, `.`/`..` segments and repeated slashes resolved (never above the
// connection's root), other escapes kept (hex upper-cased). What would stay ambiguous between
// the gateway and the upstream — an encoded `/`, `\` or `%`, a raw `\`, a control character, a
// bad escape — is refused, so a rule on `/refunds` sees every spelling of `/refunds`.

export type NormalizedTarget =
  | { ok: true; connection: string; path: string; rawQuery: string }
  | { ok: false; status: 400 | 404; detail: string };

const CONNECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  );
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Split `/<connection>/<rest>?query` and normalise `<rest>`. */
export function normalizeTarget(url: string): NormalizedTarget {
  if (!url.startsWith('/'))
    return { ok: false, status: 400, detail: 'the request target must be an absolute path (/<connection>/…)' };
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  const slash = rawPath.indexOf('/', 1);
  const connection = slash === -1 ? rawPath.slice(1) : rawPath.slice(1, slash);
  if (!CONNECTION_NAME.test(connection)) {
    return { ok: false, status: 404, detail: 'the path must start with a connection name: /<connection>/…' };
  }
  const path = normalizePath(slash === -1 ? '/' : rawPath.slice(slash));
  if (typeof path !== 'string') return { ok: false, status: 400, detail: path.error };
  for (let i = 0; i < rawQuery.length; i++) {
    const c = rawQuery.charCodeAt(i);
    if (c < 0x21 || c > 0x7e)
      return { ok: false, status: 400, detail: 'the query holds a character that must be percent-encoded' };
  }
  return { ok: true, connection, path, rawQuery };
}

/** A path (starting with `/`) normalised, or why it is ambiguous. */
export function normalizePath(raw: string): string | { error: string } {
  let decoded = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const h = hexValue(raw.charCodeAt(i + 1));
      const l = hexValue(raw.charCodeAt(i + 2));
      if (h < 0 || l < 0) return { error: 'the path holds a malformed percent-escape' };
      const byte = h * 16 + l;
      if (byte === 0x2f || byte === 0x5c || byte === 0x25) {
        return { error: 'the path holds an encoded "/", "\\" or "%", which servers resolve differently: refused' };
      }
      if (byte < 0x20 || byte === 0x7f) return { error: 'the path holds an encoded control character' };
      decoded += isUnreserved(byte)
        ? String.fromCharCode(byte)
        : `%${raw[i + 1]!.toUpperCase()}${raw[i + 2]!.toUpperCase()}`;
      i += 2;
      continue;
    }
    if (c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x23 /* # */) {
      return { error: 'the path holds a character that must be percent-encoded' };
    }
    decoded += raw[i];
  }
  const out: string[] = [];
  const segments = decoded.split('/');
  const trailing =
    segments.length > 1 &&
    (segments[segments.length - 1] === '' ||
      segments[segments.length - 1] === '.' ||
      segments[segments.length - 1] === '..');
  for (const s of segments) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  const path = `/${out.join('/')}`;
  return trailing && out.length > 0 ? `${path}/` : path;
}

/** The query as facts: names to value (or values, when repeated), percent-decoded. */
export function queryFacts(rawQuery: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return query;
}
