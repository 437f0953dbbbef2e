// Attacker and failure cases on the HTTP front door (plain HTTP on loopback): malformed request
// lines, oversized headers, a body longer than its Content-Length, a client that disconnects
// mid-response, an upstream that resets or is down; each gets a clear answer, other requests
// are unaffected, and every exchange is in the recording (masked) and the audit log.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { curl, type HttpGateway, startHttpGateway, startUpstream, type Upstream } from './support.js';

const POLICY = `
access:
  - groups: [agents]
    connections: [api, down]
rules:
  - name: big-uploads-blocked
    when: op.kind == 'http' && op.http.bodyBytes > 2000000
    action: block
    message: uploads above 2 MB are refused
masking:
  - connections: [api]
    columns: [email, password]
    detect: [email, credit_card, secret]
`;

/** Raw bytes to the gateway; resolves with everything it answered before closing. */
function raw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    // Not half-closed: every case here ends with the gateway closing the connection.
    s.on('connect', () => s.write(bytes));
    s.setTimeout(10_000, () => reject(new Error('no answer')));
  });
}

describe('HTTP gateway: bad input and failures', () => {
  let up: Upstream;
  let gw: HttpGateway;
  let token: string;
  let base: string;
  let cutAfterFirst: (() => void) | null = null;

  before(async () => {
    up = await startUpstream((req, res, body) => {
      const path = req.url ?? '';
      if (path === '/reset') {
        req.socket.destroy();
        return;
      }
      if (path === '/half') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('[{"email":"ann@example.com"},');
        // Reset mid-body.
        setImmediate(() => res.socket?.destroy());
        return;
      }
      if (path === '/endless') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        const tick = () => {
          if (res.destroyed || res.writableEnded) return;
          res.write('{"email":"ann@example.com","n":1}\n', () => setImmediate(tick));
        };
        cutAfterFirst = () => res.destroy();
        tick();
        return;
      }
      if (path === '/gzip') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(JSON.stringify({ email: 'ann@example.com', ok: 1 })));
        return;
      }
      if (path === '/ndjson') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.end('{"email":"ann@example.com","password":"hunter2"}\n{"id":2,"note":"b@x.io"}\n');
        return;
      }
      if (path === '/notjson') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"email": "ann@example.com" oops');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path, bytes: body.length }));
    });
    gw = await startHttpGateway({
      connections: `  api:
    type: http
    url: ${up.url}
  down:
    type: http
    url: http://127.0.0.1:1
`,
      policy: POLICY,
    });
    token = await gw.token('agent-a', ['agents']);
    base = `http://127.0.0.1:${gw.httpPort}`;
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
  });

  const auth = () => ['-H', `Authorization: Bearer ${token}`];

  it('a malformed request line gets a 400 problem and the connection closes', async () => {
    const out = await raw(gw.httpPort, 'GARBAGE\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 400/);
    assert.match(out, /application\/problem\+json/);
    const out2 = await raw(gw.httpPort, 'GET /api/x HTTP/1.1\r\nHost: a\r\nbad header line\r\n\r\n');
    assert.match(out2, /^HTTP\/1\.1 400/);
  });

  it('oversized headers get 431', async () => {
    const out = await raw(gw.httpPort, `GET /api/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 431/);
  });

  it('bytes past Content-Length are a new (malformed) request, never part of the body', async () => {
    const req =
      `POST /api/echo HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${token}\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n` +
      'helloEXTRA-NOT-HTTP\r\n\r\n';
    const out = await raw(gw.httpPort, req);
    assert.match(out, /^HTTP\/1\.1 200/);
    assert.match(out, /"bytes":5/);
    assert.match(out, /HTTP\/1\.1 400/, 'the rest was parsed as a request and refused');
  });

  it('plain HTTP from loopback works; TLS bytes without a certificate… are served too (the gateway has one)', async () => {
    const r = await curl([...auth(), `${base}/api/hello`]);
    assert.equal(r.status, 200);
    const s = await curl(['-k', ...auth(), `https://127.0.0.1:${gw.httpPort}/api/hello`]);
    assert.equal(s.status, 200);
  });

  it('an unreachable upstream is a 502 problem; a reset is a 502; a reset mid-body cuts the response', async () => {
    const down = await curl([...auth(), `${base}/down/x`]);
    assert.equal(down.status, 502);
    assert.match(JSON.parse(down.body).detail, /unavailable/);
    const reset = await curl([...auth(), `${base}/api/reset`]);
    assert.equal(reset.status, 502);
    const half = await fetch(`${base}/api/half`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(half.status, 200);
    await assert.rejects(half.text(), 'a truncated body is an error to the client, not a complete response');
    const ok = await curl([...auth(), `${base}/api/after`]);
    assert.equal(ok.status, 200, 'other requests are unaffected');
  });

  it('a client that disconnects mid-response: the upstream request is cancelled, the gateway carries on', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/api/endless`, {
      headers: { authorization: `Bearer ${token}` },
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    const first = Buffer.from((await reader.read()).value!).toString();
    assert.doesNotMatch(first, /ann@example\.com/);
    ac.abort();
    await reader.closed.catch(() => {});
    const ok = await curl([...auth(), `${base}/api/after-abort`]);
    assert.equal(ok.status, 200);
    cutAfterFirst?.();
  });

  it('masks gzip JSON (decompressed), NDJSON per line with secret keys; invalid JSON under masking is cut', async () => {
    const g = await curl([...auth(), `${base}/api/gzip`]);
    assert.equal(g.status, 200);
    assert.equal(g.headers['content-encoding'], undefined);
    assert.doesNotMatch(g.body, /ann@example\.com/);
    assert.equal(JSON.parse(g.body).ok, 1);
    const n = await curl([...auth(), `${base}/api/ndjson`]);
    const lines = n.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.notEqual(lines[0].email, 'ann@example.com');
    assert.notEqual(lines[0].password, 'hunter2');
    assert.doesNotMatch(n.body, /b@x\.io/);
    const bad = await fetch(`${base}/api/notjson`, { headers: { authorization: `Bearer ${token}` } });
    await assert.rejects(bad.text());
  });

  it('a body over 1 MiB is streamed: json null, bodyBytes from Content-Length; a rule on bodyBytes blocks big ones', async () => {
    const big = Buffer.alloc(1_500_000, 'a');
    const ok = await fetch(`${base}/api/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: big,
    });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { bytes: number }).bytes, big.length, 'the whole body reached the upstream');
    const huge = await fetch(`${base}/api/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: Buffer.alloc(2_500_000, 'b'),
    });
    assert.equal(huge.status, 403);
    assert.deepEqual(((await huge.json()) as { rules: string[] }).rules, ['big-uploads-blocked']);
  });

  it('revocation mid-session: the next request on the same keep-alive connection is a 401, the session ends', async () => {
    const { Pool } = await import('undici');
    const pool = new Pool(base, { connections: 1 });
    const victim = await gw.token('revoked-agent', ['agents']);
    const headers = { authorization: `Bearer ${victim}` };
    try {
      const first = await pool.request({ path: '/api/before-revoke', method: 'GET', headers });
      assert.equal(first.statusCode, 200);
      await first.body.text();
      const admin = await gw.token('root', ['admins']);
      const revoked = await fetch(`${gw.apiUrl}/api/v1/revocations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sub: 'revoked-agent', reason: 'test' }),
      });
      assert.equal(revoked.status, 201, await revoked.text());
      const before = up.seen.length;
      const second = await pool.request({ path: '/api/after-revoke', method: 'GET', headers });
      assert.equal(second.statusCode, 401);
      const p = (await second.body.json()) as { code: string };
      assert.equal(p.code, 'WARDEN_SESSION_ENDED');
      assert.equal(up.seen.length, before, 'the upstream never saw it');
      const third = await pool.request({ path: '/api/after-revoke', method: 'GET', headers });
      assert.equal(third.statusCode, 401, 'a new session for a revoked token is refused at open');
      await third.body.text();
    } finally {
      await pool.close();
    }
  });

  it('records each exchange as JSON lines: request line, safe headers, masked bodies, status; never the token', async () => {
    await curl([
      ...auth(),
      '-H',
      'content-type: application/json',
      '--data',
      '{"email":"zed@example.com","password":"pw1"}',
      `${base}/api/record-me`,
    ]);
    const dir = join(gw.dir, 'recordings');
    const files = await listFiles(dir);
    const all = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
    assert.ok(!all.includes(token), 'no token in recordings');
    assert.ok(!all.includes('zed@example.com'), 'request bodies are recorded masked');
    assert.ok(!all.includes('ann@example.com'), 'response bodies are recorded masked');
    const events = all
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = events.find(
      (e) => e.type === 'result' && (e.request as { target?: string } | undefined)?.target === '/record-me',
    ) as { status: number; request: { method: string; headers: Record<string, string>; body: string }; output: string };
    assert.ok(result, 'the exchange is recorded');
    assert.equal(result.status, 200);
    assert.equal(result.request.method, 'POST');
    assert.equal(result.request.headers.authorization, undefined);
    assert.match(result.output, /record-me/);
    const cut = events.find((e) => e.type === 'result' && (e.request as { target?: string })?.target === '/half');
    assert.ok(cut && typeof cut.error === 'string', 'a cut response is recorded with its error');
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}
