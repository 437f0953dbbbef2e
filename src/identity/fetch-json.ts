// GET a small JSON document (discovery, JWKS) with a deadline and a size cap, so a slow or
// hostile endpoint cannot stall verification or exhaust memory.
//
// node:http(s), not the global fetch: the first fetch() loads Node's internal undici and WHATWG
// streams, ~13–20 MB of resident memory a gateway keeps for good after its first session's token
// check (measured: RSS +13 MB vs +2 MB for http.get). It is the only HTTP client the identity
// path needs: one GET, no body, no cookies, no compression (none is asked for).
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

const MAX_BYTES = 512 * 1024;
/** Redirects followed (a moved discovery or JWKS document); never from https to http. */
const MAX_REDIRECTS = 3;

export async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  const text = await getText(url, timeoutMs);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`response from ${url} is not JSON`);
  }
}

/** The body of a 2xx answer to GET `url` as UTF-8, within `timeoutMs` for the whole exchange. */
function getText(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest | undefined;
    let settled = false;
    const finish = (err: Error | null, text = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req?.destroy();
        reject(err);
      } else resolve(text);
    };
    const timer = setTimeout(() => finish(new Error(`${url} did not answer within ${timeoutMs} ms`)), timeoutMs);
    const get = (target: URL, redirects: number) => {
      const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : null;
      if (!send) return finish(new Error(`${target.href} is not an http(s) URL`));
      req = send(target, { method: 'GET', headers: { accept: 'application/json' }, agent: false });
      req.on('error', (e) => finish(new Error(`GET ${target.href}: ${e.message}`)));
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && location) {
          res.resume();
          if (redirects === 0) return finish(new Error(`${url}: too many redirects`));
          let next: URL;
          try {
            next = redirectTarget(target, location);
          } catch (e) {
            return finish(e as Error);
          }
          return get(next, redirects - 1);
        }
        if (status < 200 || status > 299) {
          res.resume();
          return finish(new Error(`HTTP ${status} from ${url}`));
        }
        const tooLarge = () => finish(new Error(`response from ${url} is larger than ${MAX_BYTES} bytes`));
        if (Number(res.headers['content-length'] ?? 0) > MAX_BYTES) return tooLarge();
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BYTES) return tooLarge();
          chunks.push(chunk);
        });
        res.on('end', () => finish(null, Buffer.concat(chunks).toString('utf8')));
        res.on('error', (e) => finish(new Error(`GET ${target.href}: ${e.message}`)));
        res.on('aborted', () => finish(new Error(`GET ${target.href}: the answer was cut short`)));
      });
      req.end();
    };
    try {
      get(new URL(url), MAX_REDIRECTS);
    } catch (e) {
      finish(e instanceof Error ? e : new Error(String(e)));
    }
  });
}

/** Where a redirect from `from` leads; throws for a downgrade from https (keys over plain HTTP). */
export function redirectTarget(from: URL, location: string): URL {
  const next = new URL(location, from);
  if (from.protocol === 'https:' && next.protocol !== 'https:') {
    throw new Error(`${from.href} redirects to ${next.protocol} (not followed)`);
  }
  return next;
}
