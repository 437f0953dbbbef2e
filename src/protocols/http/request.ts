// The request side of an exchange: the body's head read before the decision (up to 1 MiB, for
// op.http.json), the rest streamed upstream (scanned for `_method` when it is a form), the
// operation's facts and text, and the headers the upstream gets (hop-by-hop, the client's
// credentials and method overrides dropped; the connection's own headers injected).
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Problem } from '../../api/problem.js';
import type { HttpFacts } from '../../core/types.js';
import type { GatewaySession } from '../../gateway/index.js';
import type { Masker } from '../../masking/index.js';
import { METHOD_OVERRIDE, type OverrideScan } from './method-override.js';
import { queryFacts } from './path.js';
import { type HttpConnectionConfig, hopHeaders } from './upstream.js';

export interface BodyHead {
  chunks: Buffer[];
  bytes: number;
  /** The whole body was read (bytes is its size). */
  ended: boolean;
  rest: AsyncIterator<Buffer> | null;
}

export function readHead(req: IncomingMessage, limit: number): BodyHead | Promise<BodyHead> {
  // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3): nothing
  // to wait for. (Node leaves the empty stream to be drained once the response is finished.)
  const h = req.headers;
  if (h['transfer-encoding'] === undefined && (h['content-length'] === undefined || h['content-length'] === '0'))
    return { chunks: [], bytes: 0, ended: true, rest: null };
  return readBody(req, limit);
}

async function readBody(req: IncomingMessage, limit: number): Promise<BodyHead> {
  const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let bytes = 0;
  while (bytes <= limit) {
    const r = await it.next();
    if (r.done) return { chunks, bytes, ended: true, rest: null };
    chunks.push(r.value);
    bytes += r.value.length;
  }
  return { chunks, bytes, ended: false, rest: it };
}

/** A body not read yet (the client waits for 100 Continue); `rest` is set once it is asked for. */
export function unreadBody(): BodyHead {
  return { chunks: [], bytes: 0, ended: false, rest: null };
}

/**
 * The body upstream; one not read whole is streamed, a form one scanned for `_method` on the
 * way. The scan holds one chunk back, so the body's last bytes go out only once the whole body
 * passed it: a refusal always leaves the upstream with a cut body.
 */
export function requestBody(body: BodyHead, scan: OverrideScan | null): Buffer | Readable | undefined {
  if (body.ended) return body.bytes === 0 ? undefined : Buffer.concat(body.chunks);
  const { chunks, rest } = body;
  return Readable.from(
    (async function* () {
      let held: Buffer | null = null;
      const pass = function* (c: Buffer) {
        scan?.push(c);
        if (held) yield held;
        held = c;
      };
      for (const c of chunks) yield* pass(c);
      for (;;) {
        const r = await rest!.next();
        if (r.done) break;
        yield* pass(r.value);
      }
      scan?.end();
      if (held) yield held;
    })(),
    { objectMode: false },
  );
}

export function requestFacts(
  req: IncomingMessage,
  method: string,
  path: string,
  rawQuery: string,
  body: BodyHead,
): HttpFacts {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k === 'authorization' || k === 'cookie' || k === 'proxy-authorization') continue;
    headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  let json: unknown = null;
  if (body.ended && body.bytes > 0) {
    // Parsed whatever the content type says: a JSON body sent as text/plain is still JSON to many servers.
    try {
      json = JSON.parse(Buffer.concat(body.chunks).toString('utf8'));
    } catch {
      json = null;
    }
  }
  const length = Number(req.headers['content-length']);
  const bodyBytes = body.ended ? body.bytes : Number.isSafeInteger(length) ? length : null;
  return { method, path, query: queryFacts(rawQuery), headers, json, bodyBytes };
}

/**
 * The operation's text (what audit, reviews and approvals hold): `METHOD /path?query body`, as
 * `policy test` reads it, masked with the identity's plan. A body too large to read before the
 * decision is named by its size only.
 */
export function operationText(
  method: string,
  target: string,
  body: BodyHead,
  facts: HttpFacts,
  masker: Masker | null,
): string {
  const line = `${method} ${target}`;
  let text = line;
  if (!body.ended) text += ` [streamed body of ${facts.bodyBytes ?? 'unknown'} bytes]`;
  else if (body.bytes > 0) {
    const raw = Buffer.concat(body.chunks).toString('utf8');
    text += ` ${masker ? masker.maskJsonText(raw) : raw}`;
  }
  return masker ? `${masker.maskText(line)}${text.slice(line.length)}` : text;
}

export function upstreamHeaders(
  req: IncomingMessage,
  conn: HttpConnectionConfig,
  masking: boolean,
): Record<string, string | string[]> {
  const hop = hopHeaders(req.headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || hop.has(k) || k === 'authorization' || k === 'expect' || METHOD_OVERRIDE.has(k)) continue;
    if (k === 'cookie' && conn.forwardCookies !== true) continue;
    out[k] = v;
  }
  // A masked response must arrive uncompressed (a compressed one is decompressed, or refused).
  if (masking) out['accept-encoding'] = 'identity';
  for (const [k, v] of injectedHeaders(conn)) out[k] = v;
  return out;
}

interface Injected {
  /** Names lower-cased. */
  headers: [string, string][];
  names: ReadonlySet<string>;
}

const injected = new WeakMap<HttpConnectionConfig, Injected>();

/** The connection's own headers, names lower-cased (worked out once per connection config). */
function injectedOf(conn: HttpConnectionConfig): Injected {
  let i = injected.get(conn);
  if (!i) {
    const headers = Object.entries(conn.headers ?? {}).map(([k, v]): [string, string] => [k.toLowerCase(), v]);
    i = { headers, names: new Set(headers.map(([k]) => k)) };
    injected.set(conn, i);
  }
  return i;
}

function injectedHeaders(conn: HttpConnectionConfig): [string, string][] {
  return injectedOf(conn).headers;
}

/** The (lower-case) names of the headers the connection injects: never recorded. */
export function injectedNames(conn: HttpConnectionConfig): ReadonlySet<string> {
  return injectedOf(conn).names;
}

/** What a request passes before its decision (engine.ts `admit`): its target, method and session, or a problem. */
export type Admitted =
  | {
      ok: true;
      target: { connection: string; path: string; rawQuery: string };
      method: string;
      session: GatewaySession;
      conn: HttpConnectionConfig;
    }
  | { ok: false; problem: Problem; headers: Record<string, string> };
