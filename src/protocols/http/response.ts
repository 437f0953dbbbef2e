// The response side of an exchange: the headers the client gets (hop-by-hop dropped, redirects
// into the upstream rewritten into the connection's prefix) and the decoders a compressed body
// is masked through.
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { hopHeaders } from './upstream.js';

export function responseHeaders(
  headers: Record<string, string | string[] | undefined>,
  origin: string,
  basePath: string,
  connection: string,
): Record<string, string | string[]> {
  const hop = hopHeaders(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || hop.has(k)) continue;
    out[k] = k === 'location' && typeof v === 'string' ? rewriteLocation(v, origin, basePath, connection) : v;
  }
  return out;
}

/** A redirect to the upstream itself points back into the connection's prefix. */
export function rewriteLocation(location: string, origin: string, basePath: string, connection: string): string {
  let url: URL;
  try {
    url = new URL(location, `${origin}${basePath}/`);
  } catch {
    return location;
  }
  if (url.origin !== new URL(origin).origin) return location;
  if (basePath && url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) return location;
  return `/${connection}${url.pathname.slice(basePath.length) || '/'}${url.search}${url.hash}`;
}

export function decompressor(encoding: string): Transform | null {
  if (encoding === 'gzip' || encoding === 'x-gzip') return createGunzip();
  if (encoding === 'deflate') return createInflate();
  if (encoding === 'br') return createBrotliDecompress();
  return null;
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
