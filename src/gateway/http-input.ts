import type { HttpFacts } from '../core/types.js';

/** `GET /path?x=1 {"json":…}` (as typed on the command line) → HTTP facts. */
export function parseHttpInput(input: string): HttpFacts {
  const m = /^\s*([A-Za-z]+)\s+(\S+)\s*([\s\S]*)$/.exec(input);
  const method = (m?.[1] ?? 'GET').toUpperCase();
  const target = m?.[2] ?? (input.trim() || '/');
  const bodyText = m?.[3]?.trim() ?? '';
  const url = new URL(target, 'http://warden.invalid');
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  let json: unknown = null;
  if (bodyText) {
    try {
      json = JSON.parse(bodyText);
    } catch {
      json = null;
    }
  }
  return { method, path: url.pathname, query, headers: {}, json };
}
