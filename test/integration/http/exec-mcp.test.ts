// REST `exec`, `warden exec CONN -- GET /path` and the MCP `http_request` tool on an HTTP
// connection: all served by the HTTP engine in-process, so they get the front door's decisions,
// masking and recording (not a second implementation).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { mcpClient, text } from '../mcp/support.js';
import { type HttpGateway, startHttpGateway, startUpstream, type Upstream } from './support.js';

const POLICY = `
access:
  - groups: [agents]
    connections: [api]
rules:
  - name: no-delete
    when: op.kind == 'http' && op.http.method == 'DELETE'
    action: block
    message: nothing is deleted through Warden
  - name: refunds-need-review
    when: op.kind == 'http' && op.http.path == '/refunds' && op.http.json.amount > 1000
    action: review
    approvers: { groups: [finance], count: 1 }
    message: big refunds need finance approval
masking:
  - connections: [api]
    columns: [email]
    detect: [email, credit_card]
`;

describe('HTTP through REST exec, the CLI and MCP', () => {
  let up: Upstream;
  let gw: HttpGateway;
  let token: string;

  before(async () => {
    up = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ url: req.url, method: req.method, email: 'ann@example.com', card: '4111 1111 1111 1111' }),
      );
    });
    gw = await startHttpGateway({
      connections: `  api:
    type: http
    url: ${up.url}
    headers:
      x-api-key: upstream-key
`,
      policy: POLICY,
    });
    token = await gw.token('agent-a', ['agents']);
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
  });

  const exec = async (input: string) => {
    const r = await fetch(`${gw.apiUrl}/api/v1/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'api', input }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  it('REST exec: allowed and masked, blocked naming the rule, review with an id', async () => {
    const ok = await exec('GET /customers?x=1');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.outcome, 'ok');
    assert.equal(ok.body.effect, 'mask');
    assert.equal(ok.body.status, 200);
    const body = JSON.parse(ok.body.body as string) as Record<string, string>;
    assert.equal(body.url, '/customers?x=1');
    assert.notEqual(body.email, 'ann@example.com');
    assert.doesNotMatch(ok.body.body as string, /4111 1111 1111 1111/);
    assert.equal(up.seen.at(-1)!.headers['x-api-key'], 'upstream-key');

    const before = up.seen.length;
    const blocked = await exec('DELETE /customers/7');
    assert.equal(blocked.body.outcome, 'blocked');
    assert.deepEqual(blocked.body.rules, ['no-delete']);
    assert.match(blocked.body.message as string, /no-delete/);
    const review = await exec('POST /refunds {"amount": 5000}');
    assert.equal(review.body.outcome, 'review');
    assert.ok(review.body.reviewId);
    assert.equal(up.seen.length, before, 'neither reached the upstream');
  });

  it('REST exec on a connection the caller may not use is the API error, not a response', async () => {
    const r = await fetch(`${gw.apiUrl}/api/v1/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await gw.token('x', ['nobody'])}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'api', input: 'GET /customers' }),
    });
    assert.ok(r.status === 403 || r.status === 404, String(r.status));
  });

  it('warden exec CONN -- GET /path prints the masked body', async () => {
    const res = await runWarden(['exec', '--gateway', gw.apiUrl, 'api', '--', 'GET', '/customers'], {
      env: { WARDEN_TOKEN: token },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /HTTP 200/);
    assert.match(res.stdout, /"url":"\/customers"/);
    assert.doesNotMatch(res.stdout, /ann@example\.com/);
  });

  it('MCP http_request: masked result; a block is isError naming the rule', async () => {
    const mcp = await mcpClient(gw.apiUrl, token);
    try {
      const ok = await mcp.call('http_request', { connection: 'api', method: 'GET', path: '/customers' });
      assert.ok(!ok.isError, text(ok));
      assert.match(text(ok), /HTTP 200/);
      assert.doesNotMatch(text(ok), /ann@example\.com/);
      assert.equal(ok.structuredContent?.effect, 'mask');
      const blocked = await mcp.call('http_request', { connection: 'api', method: 'DELETE', path: '/customers/7' });
      assert.equal(blocked.isError, true);
      assert.match(text(blocked), /no-delete/);
    } finally {
      await mcp.close();
    }
  });
});
