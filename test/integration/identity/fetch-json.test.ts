// fetchJson (discovery and JWKS documents) against real HTTP servers on loopback: what a slow,
// oversized, failing or redirecting identity provider gets, and that nothing hangs.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchJson, redirectTarget } from '../../../src/identity/fetch-json.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('fetchJson', () => {
  let idp: { url: string; server: Server };
  const seen: { url: string; accept: string | undefined }[] = [];
  before(async () => {
    idp = await serve((req, res) => {
      seen.push({ url: req.url ?? '', accept: req.headers.accept });
      switch (req.url) {
        case '/jwks':
          res.setHeader('content-type', 'application/json');
          return res.end(JSON.stringify({ keys: [{ kty: 'EC', kid: 'k1' }] }));
        case '/chunked-big': {
          // No content-length: the cap holds while streaming.
          const piece = Buffer.alloc(64 * 1024, 0x20);
          let sent = 0;
          const more = () => {
            while (sent < 40 && res.write(piece)) sent++;
            if (sent < 40) res.once('drain', more);
            else res.end();
          };
          return more();
        }
        case '/declared-big':
          res.setHeader('content-length', String(10 * 1024 * 1024));
          return res.write('{');
        case '/not-json':
          return res.end('<html>login</html>');
        case '/missing':
          res.statusCode = 404;
          return res.end('{"error":"nope"}');
        case '/moved':
          res.statusCode = 302;
          res.setHeader('location', '/jwks');
          return res.end();
        case '/loop':
          res.statusCode = 301;
          res.setHeader('location', '/loop');
          return res.end();
        case '/silent':
          return; // never answers
        case '/stalls':
          res.setHeader('content-length', '100');
          return res.write('{"keys":'); // then nothing
        case '/cut':
          res.setHeader('content-length', '100');
          res.write('{"keys":');
          return setTimeout(() => res.destroy(), 20);
        default:
          res.statusCode = 500;
          return res.end();
      }
    });
  });
  after(() => {
    idp.server.closeAllConnections();
    idp.server.close();
  });

  it('returns the parsed document and asks for JSON', async () => {
    assert.deepEqual(await fetchJson(`${idp.url}/jwks`, 2000), { keys: [{ kty: 'EC', kid: 'k1' }] });
    assert.equal(seen.at(-1)?.accept, 'application/json');
  });

  it('follows a redirect, but not forever', async () => {
    assert.deepEqual(await fetchJson(`${idp.url}/moved`, 2000), { keys: [{ kty: 'EC', kid: 'k1' }] });
    await assert.rejects(fetchJson(`${idp.url}/loop`, 2000), /too many redirects/);
  });

  it('follows no redirect from https to plain http, and fetches only http(s) URLs', async () => {
    assert.throws(() => redirectTarget(new URL('https://idp.example/jwks'), 'http://idp.example/jwks'), /not followed/);
    assert.equal(redirectTarget(new URL('https://idp.example/a'), '//other.example/jwks').protocol, 'https:');
    assert.equal(redirectTarget(new URL('https://idp.example/a'), '/b').href, 'https://idp.example/b');
    assert.equal(
      redirectTarget(new URL('http://idp.example/a'), 'https://idp.example/b').href,
      'https://idp.example/b',
    );
    await assert.rejects(fetchJson('ftp://127.0.0.1/jwks', 2000), /not an http\(s\) URL/);
    const ftp = await serve((_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', 'file:///etc/passwd');
      res.end();
    });
    try {
      await assert.rejects(fetchJson(`${ftp.url}/x`, 2000), /not an http\(s\) URL/);
    } finally {
      ftp.server.close();
    }
  });

  it('fails on a non-2xx status, a body that is not JSON, and one over the cap', async () => {
    await assert.rejects(fetchJson(`${idp.url}/missing`, 2000), /HTTP 404 from/);
    await assert.rejects(fetchJson(`${idp.url}/not-json`, 2000), /is not JSON/);
    await assert.rejects(fetchJson(`${idp.url}/declared-big`, 2000), /larger than 524288 bytes/);
    await assert.rejects(fetchJson(`${idp.url}/chunked-big`, 5000), /larger than 524288 bytes/);
  });

  it('gives up at the deadline when the server is silent or stalls mid-body, and on a cut answer', async () => {
    const t0 = Date.now();
    await assert.rejects(fetchJson(`${idp.url}/silent`, 300), /did not answer within 300 ms/);
    await assert.rejects(fetchJson(`${idp.url}/stalls`, 300), /did not answer within 300 ms/);
    assert.ok(Date.now() - t0 < 5000, 'the deadline held');
    await assert.rejects(fetchJson(`${idp.url}/cut`, 2000), /cut short|aborted|socket hang up|ECONNRESET/);
  });

  it('fails cleanly when nothing listens', async () => {
    const gone = await serve(() => undefined);
    await new Promise((r) => gone.server.close(r));
    await assert.rejects(fetchJson(`${gone.url}/jwks`, 2000), /ECONNREFUSED/);
  });
});
