import type { HttpFacts } from '../core/types.js';
import { normalizePath, queryFacts } from '../protocols/http/path.js';

/**
 * `GET /path?x=1 {"json":…}` (as typed on the command line) → HTTP facts, with the path
 * normalised exactly as the HTTP front door does (a path it would refuse is kept as typed, and
 * `policy test` shows it so).
 */
export function parseHttpInput(input: string): HttpFacts {
  const m = /^\s*([A-Za-z]+)\s+(\S+)\s*([\s\S]*)$/.exec(input);
  const method = (m?.[1] ?? 'GET').toUpperCase();
  const target = m?.[2] ?? (input.trim() || '/');
  const bodyText = m?.[3]?.trim() ?? '';
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const normalized = normalizePath(rawPath.startsWith('/') ? rawPath : `/${rawPath}`);
  const path = typeof normalized === 'string' ? normalized : rawPath;
  let json: unknown = null;
  if (bodyText) {
    try {
      json = JSON.parse(bodyText);
    } catch {
      json = null;
    }
  }
  return {
    method,
    path,
    query: queryFacts(q === -1 ? '' : target.slice(q + 1)),
    headers: {},
    json,
    bodyBytes: Buffer.byteLength(bodyText),
  };
}
