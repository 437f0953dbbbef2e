// Upstream HTTP with undici: one keep-alive pool per connection (TLS per the connection's `tls`
// and `caCert`), the request and response bodies streamed both ways.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { buildConnector, Pool } from 'undici';
import type { z } from 'zod';
import type { httpConnectionSchema } from './connection.js';

export type HttpConnectionConfig = z.infer<typeof httpConnectionSchema>;

/** Headers that describe one hop (RFC 9110 §7.6.1), never forwarded either way. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

/**
 * Header names (lower-case) that must not be passed on: hop-by-hop ones and those named in
 * Connection. Without a Connection header naming others (most messages): the shared set.
 */
export function hopHeaders(connectionHeader: string | string[] | undefined): ReadonlySet<string> {
  if (connectionHeader === undefined) return HOP_BY_HOP;
  const values = Array.isArray(connectionHeader) ? connectionHeader : [connectionHeader];
  let names: Set<string> | null = null;
  for (const v of values)
    for (const part of v.split(',')) {
      const n = part.trim().toLowerCase();
      if (n === '' || HOP_BY_HOP.has(n)) continue;
      names ??= new Set(HOP_BY_HOP);
      names.add(n);
    }
  return names ?? HOP_BY_HOP;
}

export interface Upstream {
  pool: Pool;
  /** Opens (and closes) a connection to the target, TLS verified as the pool's are: no request sent. */
  reachable(): Promise<void>;
  origin: string;
  /** The URL's path without its trailing slash ('' for the root). */
  basePath: string;
}

export class UpstreamPools {
  private readonly pools = new Map<string, Upstream>();

  get(name: string, c: HttpConnectionConfig): Upstream {
    let u = this.pools.get(name);
    if (!u) {
      if (!c.url) throw new Error(`connection '${name}' has no url`);
      const url = new URL(c.url);
      const https = url.protocol === 'https:';
      const mode = c.tls ?? (https ? 'verify-full' : 'disable');
      const ca = c.caCert ? (c.caCert.includes('-----BEGIN') ? c.caCert : readFileSync(c.caCert, 'utf8')) : undefined;
      const verify = mode === 'verify-full' || ca !== undefined;
      const connect = https ? { ...(ca ? { ca } : {}), rejectUnauthorized: verify } : {};
      const pool = new Pool(url.origin, {
        connections: c.maxUpstream ?? 64,
        keepAliveTimeout: 10_000,
        headersTimeout: 30_000,
        bodyTimeout: 300_000,
        connect,
      });
      const connector = buildConnector({ ...connect, timeout: 10_000 });
      const target = {
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        host: url.host,
        protocol: url.protocol,
        port: url.port || (https ? '443' : '80'),
        servername: isIP(url.hostname) ? undefined : url.hostname,
      };
      const reachable = () =>
        new Promise<void>((resolve, reject) =>
          connector(target, (err, socket) => {
            socket?.destroy();
            if (err) reject(err);
            else resolve();
          }),
        );
      u = { pool, reachable, origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
      this.pools.set(name, u);
    }
    return u;
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((u) => u.pool.destroy().catch(() => {})));
  }
}

/** The gateway's answer to an upstream failure: 504 on timeouts, 502 otherwise. */
export function upstreamFailure(err: unknown, connection: string): { status: 502 | 504; detail: string } {
  const code = String((err as { code?: unknown }).code ?? '');
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return { status: 504, detail: `target '${connection}' did not answer in time` };
  const why = code.startsWith('E') ? ` (${code})` : '';
  return { status: 502, detail: `target '${connection}' is unavailable${why}` };
}
