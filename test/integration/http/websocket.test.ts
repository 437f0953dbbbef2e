// WebSocket upgrades through the HTTP front door: a real client (undici's WebSocket) → Warden →
// a real RFC 6455 upstream. Decided once at the upgrade (an http GET with its headers), then
// relayed both ways with the injected credential; refused when the connection does not turn
// them on, when a rule blocks the upgrade, and for identities whose responses are masked
// (messages are not inspected); cut when the token is revoked mid-relay; recorded as a relay.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'undici';
import { type HttpGateway, startHttpGateway, startUpstream, type Upstream } from './support.js';
import { type WsUpgradeSeen, wsEcho } from './ws-upstream.js';

const POLICY = `
access:
  - groups: [agents, operators, leads]
    connections: [live, plain]
rules:
  - name: no-admin-socket
    when: op.kind == 'http' && op.http.path == '/admin' && op.http.headers.upgrade == 'websocket'
    action: block
    message: the admin socket is not for agents
  - name: ops-socket-needs-review
    groups: [operators]
    when: op.kind == 'http' && op.http.path == '/ops'
    action: review
    approvers: { groups: [leads], count: 1 }
    message: the ops socket needs a lead
masking:
  - connections: [live]
    groups: [agents]
    columns: [email]
    detect: [email]
`;

/** The gateway's answer to a hand-written upgrade request (status line and body). */
function rawUpgrade(port: number, path: string, token: string, upgrade = 'websocket'): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    s.setTimeout(10_000, () => s.destroy());
    s.on('connect', () =>
      s.write(
        `GET ${path} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
    );
  });
}

/** Opens a WebSocket through the gateway; resolves once open, with the messages it gets. */
function openWs(url: string, token: string): Promise<{ ws: WebSocket; messages: string[]; next(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    const messages: string[] = [];
    let waiting: ((m: string) => void) | null = null;
    ws.addEventListener('message', (e) => {
      const m = String(e.data);
      if (waiting) {
        const w = waiting;
        waiting = null;
        w(m);
      } else messages.push(m);
    });
    ws.addEventListener('open', () =>
      resolve({
        ws,
        messages,
        next: () => (messages.length > 0 ? Promise.resolve(messages.shift()!) : new Promise((r) => (waiting = r))),
      }),
    );
    ws.addEventListener('error', () => reject(new Error('the WebSocket did not open')));
  });
}

describe('HTTP gateway: WebSocket upgrades', () => {
  let up: Upstream;
  let gw: HttpGateway;
  const upgrades: WsUpgradeSeen[] = [];
  let operator: string;
  let agent: string;
  let admin: string;
  let ws: string;

  before(async () => {
    up = await startUpstream(
      (_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('upgrade required\n'),
      undefined,
      wsEcho(upgrades),
    );
    gw = await startHttpGateway({
      connections: `  live:
    type: http
    url: ${up.url}/v2
    websocket: true
    headers:
      Authorization: Bearer upstream-ws-key
  plain:
    type: http
    url: ${up.url}
`,
      policy: POLICY,
    });
    operator = await gw.token('ws-operator', ['operators']);
    agent = await gw.token('ws-agent', ['agents']);
    admin = await gw.token('ws-admin', ['admins']);
    ws = `ws://127.0.0.1:${gw.httpPort}`;
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('decides the upgrade, then relays messages both ways with the injected credential; recorded as a relay', async () => {
    const c = await openWs(`${ws}/live/feed?room=1`, operator);
    assert.equal(await c.next(), 'hello from upstream', 'a message the upstream pushed first');
    c.ws.send('ping one');
    assert.equal(await c.next(), 'echo: ping one');
    const big = 'x'.repeat(200_000);
    c.ws.send(big);
    assert.equal(await c.next(), `echo: ${big}`, 'a large message, framed across many chunks');
    c.ws.close(1000, 'bye');
    await new Promise((r) => c.ws.addEventListener('close', r));

    const seen = upgrades.at(-1)!;
    assert.equal(seen.url, '/v2/feed?room=1');
    assert.equal(seen.headers.authorization, 'Bearer upstream-ws-key');
    assert.ok(!JSON.stringify(seen.headers).includes(operator.slice(-20)), 'the client token went upstream');

    const res = await fetch(`${gw.apiUrl}/api/v1/audit?type=operation&limit=1000`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const { entries } = (await res.json()) as { entries: { actor: string; data: { text: string; effect: string } }[] };
    const entry = entries.find((e) => e.actor === 'ws-operator');
    assert.ok(entry, 'the upgrade is audited');
    assert.equal(entry.data.effect, 'allow');
    assert.match(entry.data.text, /^GET \/feed\?room=1 \[WebSocket upgrade\]/);

    const result = await eventuallyRecorded(gw, '/feed?room=1');
    assert.equal(result.status, 101);
    assert.ok((result.responseBytes as number) > 200_000, 'bytes to the client are counted');
    assert.ok((result.requestBytes as number) > 200_000, 'bytes to the target are counted');
    assert.match(String(result.output), /not inspected/);
  });

  it('refuses: connection without websocket (403), a blocking rule (403, upstream untouched), a masked identity (403), other upgrades (400)', async () => {
    const before = upgrades.length;
    const off = await rawUpgrade(gw.httpPort, '/plain/feed', operator);
    assert.match(off, /^HTTP\/1\.1 403/);
    assert.match(off, /websocket: true/);
    const blocked = await rawUpgrade(gw.httpPort, '/live/admin', operator);
    assert.match(blocked, /^HTTP\/1\.1 403/);
    assert.match(blocked, /WARDEN_BLOCKED/);
    assert.match(blocked, /no-admin-socket/);
    const masked = await rawUpgrade(gw.httpPort, '/live/feed', agent);
    assert.match(masked, /^HTTP\/1\.1 403/);
    assert.match(masked, /not inspected/);
    const h2c = await rawUpgrade(gw.httpPort, '/live/feed', operator, 'h2c');
    assert.match(h2c, /^HTTP\/1\.1 400/);
    const anon = await rawUpgrade(gw.httpPort, '/live/feed', 'not-a-token');
    assert.match(anon, /^HTTP\/1\.1 401/);
    assert.equal(upgrades.length, before, 'no refused upgrade reached the upstream');
    // An upstream that answers the upgrade with anything but 101: a 502 naming the connection.
    const notUpgraded = await rawUpgrade(gw.httpPort, '/live/refuse', operator);
    assert.match(notUpgraded, /^HTTP\/1\.1 502/);
    assert.match(notUpgraded, /target 'live'/);
    assert.doesNotMatch(notUpgraded, /upstream-ws-key/);
    await assert.rejects(openWs(`${ws}/live/feed`, agent), 'a real client cannot open one either');
  });

  it('a reviewed upgrade: 403 with the review id, approved by a lead, then the same upgrade opens once', async () => {
    const first = await rawUpgrade(gw.httpPort, '/live/ops', operator);
    assert.match(first, /^HTTP\/1\.1 403/);
    const p = JSON.parse(first.slice(first.indexOf('{')));
    assert.equal(p.code, 'WARDEN_REVIEW_REQUIRED');
    assert.ok(p.reviewId);
    const lead = await gw.token('ws-lead', ['leads']);
    const ok = await fetch(`${gw.apiUrl}/api/v1/reviews/${p.reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${lead}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(ok.status, 200, await ok.text());
    const c = await openWs(`${ws}/live/ops`, operator);
    assert.equal(await c.next(), 'hello from upstream');
    c.ws.send('after review');
    assert.equal(await c.next(), 'echo: after review');
    c.ws.close();
    await new Promise((r) => c.ws.addEventListener('close', r));
    assert.match(await rawUpgrade(gw.httpPort, '/live/ops', operator), /^HTTP\/1\.1 403/, 'the approval was used once');
  });

  it('a revoked token cuts the relay mid-stream', async () => {
    const victim = await gw.token('ws-revoked', ['operators']);
    const c = await openWs(`${ws}/live/feed`, victim);
    assert.equal(await c.next(), 'hello from upstream');
    const closed = new Promise<void>((r) => c.ws.addEventListener('close', () => r()));
    const revoked = await fetch(`${gw.apiUrl}/api/v1/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'ws-revoked', reason: 'test' }),
    });
    assert.equal(revoked.status, 201, await revoked.text());
    // Idle or not, the relay is cut (the identity is checked every second and on every chunk).
    await closed;
    const result = await eventuallyRecorded(gw, '/feed', (r) => typeof r.error === 'string');
    assert.match(String(result.error), /revoked/);
  });
});

type Recorded = Record<string, unknown> & { request?: { target?: string } };

async function eventuallyRecorded(
  gw: HttpGateway,
  target: string,
  also: (r: Recorded) => boolean = () => true,
): Promise<Recorded> {
  for (let i = 0; i < 200; i++) {
    const dir = join(gw.dir, 'recordings');
    const lines: Recorded[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else for (const l of (await readFile(p, 'utf8')).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      }
    };
    await walk(dir);
    const found = lines.filter((l) => l.type === 'result' && l.request?.target === target && also(l)).at(-1);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no recorded result for ${target}`);
}
