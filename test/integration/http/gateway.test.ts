// The HTTP front door end to end: real curl → Warden (TLS, its own certificate) → a real HTTPS
// upstream with a test CA. Credential injection, per-request decisions, path normalisation,
// masking (JSON by key and content, SSE per event), review and approval, problem responses.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestCa } from '../../helpers/test-ca.js';
import { curl, type HttpGateway, startHttpGateway, startUpstream, type Upstream } from './support.js';

const CUSTOMERS = [
  {
    id: 7,
    name: 'Ann',
    email: 'ann@example.com',
    card_number: '4111 1111 1111 1111',
    note: 'reach me at ann.b@example.org',
  },
  { id: 8, name: 'Bob', email: 'bob@example.com', card_number: '5555555555554444', note: 'no notes' },
];

let sseRelease: () => void = () => {};

const POLICY = `
access:
  - groups: [agents, finance]
    connections: [billing]
rules:
  - name: no-customer-delete
    when: op.kind == 'http' && op.http.method == 'DELETE' && op.http.path.startsWith('/customers')
    action: block
    message: customers are never deleted through Warden
  - name: no-refunds-via-admin
    when: op.kind == 'http' && op.http.path == '/refunds' && op.http.method == 'GET'
    action: block
    message: refunds are not listed
  - name: big-refunds-need-review
    groups: [agents]
    when: op.kind == 'http' && op.http.method == 'POST' && op.http.path == '/refunds' && op.http.json.amount > 1000
    action: review
    approvers: { groups: [finance], count: 1 }
    message: refunds above 1000 need finance approval
  - name: payouts-are-held
    groups: [agents]
    when: op.kind == 'http' && op.http.path == '/payouts'
    action: review
    hold: 20s
    approvers: { groups: [finance], count: 1 }
    message: payouts wait for finance
masking:
  - connections: [billing]
    columns: [email, card_number]
    detect: [email, credit_card, us_ssn, secret]
    unmaskedFor: [finance]
`;

describe('HTTP gateway: curl through TLS to an HTTPS upstream', () => {
  let up: Upstream;
  let gw: HttpGateway;
  let caDir: string;
  let agent: string;
  let finance: string;
  let base: string;

  before(async () => {
    caDir = await mkdtemp(join(tmpdir(), 'warden-ca-'));
    const ca = makeTestCa(caDir);
    up = await startUpstream((req, res, body) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/v1/customers') {
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'sid=1' });
        res.end(JSON.stringify(CUSTOMERS));
      } else if (path === '/v1/refunds' && req.method === 'POST') {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, got: JSON.parse(body || '{}') }));
      } else if (path === '/v1/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: customer\ndata: {"email":"ann@example.com","id":7}\n\n');
        // The last event is produced only once the client has read the first through the gateway.
        sseRelease = () => res.end('data: card 4111 1111 1111 1111 done\n\n');
      } else if (path === '/v1/moved') {
        res.writeHead(302, { location: `${up.url}/v1/customers?x=1` });
        res.end();
      } else if (path === '/v1/text') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('contact ann@example.com\n');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, url: req.url }));
      }
    }, ca);
    gw = await startHttpGateway({
      connections: `  billing:
    type: http
    url: ${up.url}/v1
    caCert: \${file:${ca.caPath}}
    headers:
      Authorization: Bearer \${env:BILLING_KEY}
`,
      policy: POLICY,
      env: { BILLING_KEY: 'sk_live_upstream_secret' },
    });
    agent = await gw.token('agent-a', ['agents']);
    finance = await gw.token('fin-1', ['finance']);
    base = `https://127.0.0.1:${gw.httpPort}`;
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
    await rm(caDir, { recursive: true, force: true });
  });

  const tls = () => ['--cacert', gw.gatewayCa];
  const as = (token: string) => ['-H', `Authorization: Bearer ${token}`];

  it('injects the credential, never forwards the client token or cookies, masks the JSON by key and content', async () => {
    const r = await curl([...tls(), ...as(agent), '-H', 'Cookie: session=abc', `${base}/billing/customers`]);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as typeof CUSTOMERS;
    assert.equal(body.length, 2);
    assert.equal(body[0]!.name, 'Ann');
    assert.notEqual(body[0]!.email, 'ann@example.com');
    assert.match(body[0]!.email, /\*/);
    assert.doesNotMatch(r.body, /4111 1111 1111 1111|5555555555554444/);
    assert.doesNotMatch(r.body, /ann\.b@example\.org/, 'content detectors run on every string');
    assert.equal(r.headers['content-length'], undefined, 'a rewritten body has no stale Content-Length');
    const seen = up.seen.at(-1)!;
    assert.equal(seen.url, '/v1/customers');
    assert.equal(seen.headers.authorization, 'Bearer sk_live_upstream_secret');
    assert.equal(seen.headers.cookie, undefined, 'cookies are not forwarded unless the connection says so');
    assert.equal(seen.headers.host, `127.0.0.1:${up.port}`, 'Host names the upstream');
    assert.ok(!JSON.stringify(seen.headers).includes(agent.slice(-20)), 'the upstream never sees the client token');
  });

  it('an unmaskedFor group sees clear values', async () => {
    const r = await curl([...tls(), ...as(finance), `${base}/billing/customers`]);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), CUSTOMERS);
  });

  it('blocks DELETE /customers/7 with a problem naming the rule; the upstream is never called', async () => {
    const before = up.seen.length;
    const r = await curl([...tls(), ...as(agent), '-X', 'DELETE', `${base}/billing/customers/7`]);
    assert.equal(r.status, 403);
    assert.match(r.headers['content-type'] ?? '', /application\/problem\+json/);
    const p = JSON.parse(r.body);
    assert.equal(p.status, 403);
    assert.equal(p.code, 'WARDEN_BLOCKED');
    assert.deepEqual(p.rules, ['no-customer-delete']);
    assert.match(p.detail, /no-customer-delete/);
    assert.equal(up.seen.length, before);
  });

  it('decides every spelling of /refunds as /refunds, and refuses ambiguous paths with 400', async () => {
    const before = up.seen.length;
    for (const path of [
      '/billing/admin/%2e%2e/refunds',
      '/billing//refunds',
      '/billing/./x/../refunds',
      '/billing/%72efunds',
      '/billing/admin/%2E%2E/refunds',
    ]) {
      const r = await curl([...tls(), ...as(agent), '--path-as-is', `${base}${path}`]);
      assert.equal(r.status, 403, `${path} is blocked as /refunds`);
      assert.deepEqual(JSON.parse(r.body).rules, ['no-refunds-via-admin'], path);
    }
    for (const path of [
      '/billing/admin%2f..%2frefunds',
      '/billing/%252e%252e/refunds',
      '/billing/a%5c..%5crefunds',
      '/billing/%zz',
    ]) {
      const r = await curl([...tls(), ...as(agent), '--path-as-is', `${base}${path}`]);
      assert.equal(r.status, 400, path);
      assert.equal(JSON.parse(r.body).status, 400);
    }
    assert.equal(up.seen.length, before, 'none of them reached the upstream');
  });

  it('strips method-override headers: the method decided is the method the upstream runs', async () => {
    const r = await curl([
      ...tls(),
      ...as(agent),
      '-H',
      'X-HTTP-Method-Override: DELETE',
      `${base}/billing/customers/7`,
    ]);
    assert.equal(r.status, 200);
    const seen = up.seen.at(-1)!;
    assert.equal(seen.method, 'GET');
    assert.equal(seen.headers['x-http-method-override'], undefined);
  });

  it('refuses without a token (401), with a bad token (401), without a grant (403), for an unknown connection (403)', async () => {
    const none = await curl([...tls(), `${base}/billing/customers`]);
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.match(JSON.parse(none.body).detail, /Bearer/);
    const bad = await curl([...tls(), ...as('not-a-token'), `${base}/billing/customers`]);
    assert.equal(bad.status, 401);
    const outsider = await gw.token('x', ['nobody']);
    const denied = await curl([...tls(), ...as(outsider), `${base}/billing/customers`]);
    assert.equal(denied.status, 403);
    const unknown = await curl([...tls(), ...as(agent), `${base}/nope/customers`]);
    assert.equal(unknown.status, 403);
  });

  it('holds a big refund for review, a finance approver approves it from the API, then it runs once', async () => {
    const before = up.seen.length;
    const send = () =>
      curl([
        ...tls(),
        ...as(agent),
        '-H',
        'content-type: application/json',
        '--data',
        '{"amount": 5000}',
        `${base}/billing/refunds`,
      ]);
    const first = await send();
    assert.equal(first.status, 403);
    const p = JSON.parse(first.body);
    assert.equal(p.code, 'WARDEN_REVIEW_REQUIRED');
    assert.ok(p.reviewId);
    assert.match(p.approve, new RegExp(p.reviewId));
    assert.equal(up.seen.length, before);

    const approved = await fetch(`${gw.apiUrl}/api/v1/reviews/${p.reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${finance}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(approved.status, 200, await approved.text());
    const second = await send();
    assert.equal(second.status, 201);
    assert.deepEqual(JSON.parse(second.body).got, { amount: 5000 });
    assert.equal(up.seen.length, before + 1);
    const third = await send();
    assert.equal(third.status, 403, 'the approval was used once');

    const small = await curl([
      ...tls(),
      ...as(agent),
      '-H',
      'content-type: application/json',
      '--data',
      '{"amount": 10}',
      `${base}/billing/refunds`,
    ]);
    assert.equal(small.status, 201);
  });

  it('holds a request (hold) until a finance approver approves it, then answers it', async () => {
    const before = up.seen.length;
    const held = curl([...tls(), ...as(agent), '-X', 'POST', '--data', '{"to":"acct-1"}', `${base}/billing/payouts`]);
    let id: string | undefined;
    for (let i = 0; i < 200 && !id; i++) {
      const r = await fetch(`${gw.apiUrl}/api/v1/reviews`, { headers: { authorization: `Bearer ${finance}` } });
      const { reviews } = (await r.json()) as { reviews: { id: string; operation?: { text?: string } }[] };
      id = reviews.find((x) => JSON.stringify(x).includes('/payouts'))?.id;
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(id, 'the held request created a review');
    assert.equal(up.seen.length, before, 'nothing reached the upstream while held');
    const ok = await fetch(`${gw.apiUrl}/api/v1/reviews/${id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${finance}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(ok.status, 200);
    const r = await held;
    assert.equal(r.status, 200);
    assert.equal(up.seen.at(-1)!.url, '/v1/payouts');
    assert.equal(up.seen.length, before + 1);
  });

  it('streams SSE events masked, each flushed as it comes', async () => {
    const res = await fetch(`${base}/billing/events`, {
      headers: { authorization: `Bearer ${agent}` },
      // @ts-expect-error undici option: trust the gateway's certificate
      dispatcher: await insecureAgent(gw.gatewayCa),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    const text1 = Buffer.from(first.value!).toString();
    assert.match(text1, /event: customer/);
    assert.doesNotMatch(text1, /ann@example\.com/);
    assert.doesNotMatch(text1, /done/, 'the first event arrived before the last was produced');
    sseRelease();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    assert.match(rest, /done/);
    assert.doesNotMatch(rest, /4111 1111 1111 1111/);
  });

  it('masks text bodies by content and rewrites redirects into the prefix', async () => {
    const t = await curl([...tls(), ...as(agent), `${base}/billing/text`]);
    assert.equal(t.status, 200);
    assert.doesNotMatch(t.body, /ann@example\.com/);
    const r = await curl([...tls(), ...as(agent), `${base}/billing/moved`]);
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, '/billing/customers?x=1');
  });
});

async function insecureAgent(caPath: string) {
  const { Agent } = await import('undici');
  const { readFile } = await import('node:fs/promises');
  return new Agent({ connect: { ca: await readFile(caPath, 'utf8') } });
}
