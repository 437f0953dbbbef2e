// HTTP sessions open with their first request: the N+1th session of one identity is refused
// with 429 (audited), a closed one gives its place back; a down target is a 502 naming the
// connection that ends the session, audited with why; a revoked subject's new connection is
// refused with 401 at its first request. `OPTIONS` with `Max-Forwards: 0` (what the conformance
// fixture connects with) is answered by the gateway itself: a session, no operation.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../../src/gateway/index.js';
import { curl, type HttpGateway, startHttpGateway, startUpstream, type Upstream } from './support.js';

const LIMIT = 2;

/** One keep-alive connection; `get` sends a request and returns the status and headers. */
class KeepAlive {
  private buf = '';
  private constructor(private readonly s: Socket) {
    s.on('data', (d) => (this.buf += d.toString('latin1')));
    s.on('error', () => {});
  }
  static async open(port: number): Promise<KeepAlive> {
    const s = connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    return new KeepAlive(s);
  }
  async get(path: string, token: string): Promise<{ status: number; head: string; body: string }> {
    this.buf = '';
    this.s.write(`GET ${path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    for (let i = 0; i < 400; i++) {
      const end = this.buf.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(this.buf)?.[1];
      const status = Number(this.buf.slice(9, 12));
      const head = this.buf.slice(0, end);
      if (end !== -1 && len !== undefined && this.buf.length >= end + 4 + Number(len))
        return { status, head, body: this.buf.slice(end + 4, end + 4 + Number(len)) };
      // A relayed body is chunked: its last chunk ends the response (the body is not needed).
      if (end !== -1 && /transfer-encoding: chunked/i.test(head) && this.buf.endsWith('\r\n0\r\n\r\n'))
        return { status, head, body: '' };
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no answer to ${path}: ${this.buf}`);
  }
  close(): Promise<void> {
    this.s.end();
    return new Promise((r) => this.s.once('close', () => r()));
  }
}

describe('HTTP gateway: sessions open at the first request', () => {
  let up: Upstream;
  let gw: HttpGateway;
  let admin: string;

  before(async () => {
    up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    gw = await startHttpGateway({
      connections: `  api:
    type: http
    url: ${up.url}
  down:
    type: http
    url: http://127.0.0.1:${await freePort()}
`,
      policy: `
access:
  - groups: [agents]
    connections: [api, down]
limits:
  sessionsPerIdentity: ${LIMIT}
`,
    });
    admin = await gw.token('sessions-admin', ['admins']);
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
  });

  async function audit(sub: string, type: string): Promise<{ data: Record<string, unknown> }[]> {
    const r = await fetch(`${gw.apiUrl}/api/v1/audit?type=${type}&limit=10000`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const { entries } = (await r.json()) as { entries: { actor: string; data: Record<string, unknown> }[] };
    return entries.filter((e) => e.actor === sub);
  }

  async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
    for (let i = 0; i < 200; i++) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('the N+1th session of one identity is refused at its first request (429, audited); a closed one gives its place back', async () => {
    const token = await gw.token('limited', ['agents']);
    const mine: KeepAlive[] = [];
    for (let i = 0; i < LIMIT; i++) {
      const c = await KeepAlive.open(gw.httpPort);
      assert.equal((await c.get('/api/x', token)).status, 200);
      mine.push(c);
    }
    const over = await KeepAlive.open(gw.httpPort);
    const refused = await over.get('/api/x', token);
    assert.equal(refused.status, 429, refused.body);
    assert.match(JSON.parse(refused.body).detail, /sessionsPerIdentity/);
    assert.equal((await audit('limited', 'session.denied')).length, 1, 'the refused session is audited');
    // The sessions open keep working; another identity is not affected.
    assert.equal((await mine[0]!.get('/api/y', token)).status, 200);
    const other = await KeepAlive.open(gw.httpPort);
    assert.equal((await other.get('/api/x', await gw.token('unlimited', ['agents']))).status, 200);
    await mine[0]!.close();
    const back = await eventually(async () => {
      const r = await over.get('/api/x', token);
      return r.status === 200 ? r : undefined;
    }, 'a place given back');
    assert.equal(back.status, 200);
    for (const c of [...mine.slice(1), over, other]) await c.close();
  });

  it('a down target: 502 naming the connection, Connection: close; the session ends audited with the target reason', async () => {
    const token = await gw.token('down-agent', ['agents']);
    const c = await KeepAlive.open(gw.httpPort);
    const r = await c.get('/down/x', token);
    assert.equal(r.status, 502);
    assert.match(JSON.parse(r.body).detail, /target 'down' is unavailable/);
    assert.match(r.head, /connection: close/i);
    const ends = await eventually(async () => {
      const e = await audit('down-agent', 'session.end');
      return e.length > 0 ? e : undefined;
    }, 'the session end');
    assert.match(String(ends[0]!.data.reason), /target 'down'/);
  });

  it("a revoked subject's new connection is refused (401) at its first request", async () => {
    const token = await gw.token('revoked-http', ['agents']);
    const res = await fetch(`${gw.apiUrl}/api/v1/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'revoked-http', reason: 'test' }),
    });
    assert.equal(res.status, 201);
    const before = up.seen.length;
    const c = await KeepAlive.open(gw.httpPort);
    const r = await c.get('/api/x', token);
    assert.equal(r.status, 401);
    assert.equal(up.seen.length, before);
    await c.close();
  });

  it('OPTIONS with Max-Forwards: 0 is answered by the gateway (RFC 9110 §7.6.2): a session, no operation, nothing upstream', async () => {
    const token = await gw.token('prober', ['agents']);
    const before = up.seen.length;
    const probe = (conn: string, forwards: string) =>
      curl([
        '-X',
        'OPTIONS',
        '-H',
        `Authorization: Bearer ${token}`,
        '-H',
        `Max-Forwards: ${forwards}`,
        `http://127.0.0.1:${gw.httpPort}/${conn}/`,
      ]);
    const ok = await probe('api', '0');
    assert.equal(ok.status, 204);
    assert.match(ok.headers.allow ?? '', /GET/);
    const down = await probe('down', '0');
    assert.equal(down.status, 502);
    assert.match(JSON.parse(down.body).detail, /target 'down'/);
    assert.equal(up.seen.length, before, 'the probe reached the upstream');
    await eventually(
      async () => ((await audit('prober', 'session.start')).length >= 2 ? true : undefined),
      'the sessions',
    );
    assert.equal((await audit('prober', 'operation')).length, 0, 'a probe is not an operation');
    // Any other Max-Forwards is a request like the others: decided and forwarded.
    const forwarded = await probe('api', '1');
    assert.equal(forwarded.status, 200);
    assert.equal(up.seen.at(-1)!.method, 'OPTIONS');
  });
});
