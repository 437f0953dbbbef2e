// The MCP server at /mcp with the SDK's own client over Streamable HTTP, against a real gateway
// and PostgreSQL: tools, masking, blocks, reviews and approval, auth, sessions.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { type McpTestClient, mcpClient, text } from './support.js';

const WARDEN = fileURLToPath(new URL('../../../bin/warden.js', import.meta.url));

function wardenCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WARDEN, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('MCP server', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let agent: McpTestClient;
  let dbaToken: string;
  const open: McpTestClient[] = [];

  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target);
    agent = await mcpClient(gw.apiUrl, await gw.token('mcp-agent', ['agents']));
    open.push(agent);
    dbaToken = await gw.token('dana', ['dba']);
  });
  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    await gw?.stop();
    await target?.stop();
  });

  it('lists its tools with descriptions and JSON schemas', async () => {
    const { tools } = await agent.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const name of ['list_connections', 'describe_connection', 'query', 'request_access', 'review_status']) {
      const t = byName.get(name);
      assert.ok(t, `tool ${name}`);
      assert.ok((t.description ?? '').length > 40, `${name} has a description`);
      assert.equal(t.inputSchema.type, 'object');
    }
    assert.deepEqual(byName.get('query')?.inputSchema.required, ['connection', 'sql']);
    assert.ok(byName.get('review_status')?.inputSchema.properties?.waitSeconds);
  });

  it('lists the connections the caller may use', async () => {
    const r = await agent.call('list_connections');
    assert.equal(r.isError, undefined);
    assert.deepEqual(r.structuredContent?.connections, [{ name: 'shop', type: 'postgres', access: 'granted' }]);
  });

  it('query returns masked rows', async () => {
    const r = await agent.call('query', {
      connection: 'shop',
      sql: 'SELECT id, name, email, ssn AS s FROM customers ORDER BY id LIMIT 3',
    });
    assert.notEqual(r.isError, true, text(r));
    assert.equal(r.structuredContent?.outcome, 'ok');
    assert.equal(r.structuredContent?.effect, 'mask');
    const [res] = r.structuredContent?.results ?? [];
    assert.deepEqual(res.columns, ['id', 'name', 'email', 's']);
    assert.equal(res.rows.length, 3);
    assert.equal(res.rows[0][1], 'Ada Lovelace');
    assert.notEqual(res.rows[0][2], 'ada@example.com');
    assert.doesNotMatch(text(r), /ada@example\.com/);
    assert.doesNotMatch(JSON.stringify(r), /ada@example\.com/);
  });

  it('describe_connection lists tables and marks masked columns', async () => {
    const r = await agent.call('describe_connection', { connection: 'shop' });
    assert.notEqual(r.isError, true, text(r));
    const customers = r.structuredContent?.tables.find((t: { name: string }) => t.name === 'customers');
    assert.ok(customers);
    const col = (n: string) => customers.columns.find((c: { name: string }) => c.name === n);
    assert.equal(col('email').masked, true);
    assert.equal(col('card_number').masked, true);
    assert.equal(col('name').masked, false);
    assert.ok(r.structuredContent?.tables.some((t: { name: string }) => t.name === 'orders'));
    assert.match(text(r), /email text.*\[masked\]/);
    const one = await agent.call('describe_connection', { connection: 'shop', table: 'orders' });
    assert.deepEqual(
      one.structuredContent?.tables.map((t: { name: string }) => t.name),
      ['orders'],
    );
  });

  it('a DDL is refused with the rule and its message', async () => {
    const r = await agent.call('query', { connection: 'shop', sql: 'DROP TABLE customers' });
    assert.equal(r.isError, true);
    assert.match(text(r), /^blocked by rule no-ddl: schema changes are not allowed through Warden/);
    assert.deepEqual(r.structuredContent?.rules, ['no-ddl']);
    // The session keeps working after the refusal.
    const again = await agent.call('query', { connection: 'shop', sql: 'SELECT 1 AS one' });
    assert.deepEqual(again.structuredContent?.results[0].rows, [[1]]);
  });

  it('no token → 401 pointing at the protected-resource metadata, which names the issuers', async () => {
    const res = await fetch(`${gw.apiUrl}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }),
    });
    assert.equal(res.status, 401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.equal(challenge, `Bearer resource_metadata="${gw.apiUrl}/.well-known/oauth-protected-resource"`);

    const bad = await fetch(`${gw.apiUrl}/mcp`, { method: 'POST', headers: { authorization: 'Bearer not-a-token' } });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate') ?? '', /resource_metadata=.*error="invalid_token"/);

    const meta = (await (await fetch(`${gw.apiUrl}/.well-known/oauth-protected-resource`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(meta.resource, `${gw.apiUrl}/mcp`);
    assert.deepEqual(meta.authorization_servers, [`${gw.apiUrl}/dev`]);
    assert.deepEqual(meta.bearer_methods_supported, ['header']);

    // The SDK client without a token cannot connect.
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const anon = new Client({ name: 'anon', version: '1' });
    await assert.rejects(anon.connect(new StreamableHTTPClientTransport(new URL(`${gw.apiUrl}/mcp`))));
  });

  it('a token whose groups grant nothing sees no connections and cannot query', async () => {
    const nobody = await mcpClient(gw.apiUrl, await gw.token('sam', ['sales']));
    open.push(nobody);
    const list = await nobody.call('list_connections');
    assert.deepEqual(list.structuredContent?.connections, []);
    assert.match(text(list), /No connections/);
    const q = await nobody.call('query', { connection: 'shop', sql: 'SELECT 1' });
    assert.equal(q.isError, true);
    assert.match(text(q), /no connection named 'shop'/);
    const denied = await gw.running.gateway.audit.list({ type: 'session.denied' });
    assert.ok(
      denied.some((e) => e.actor === 'sam' && e.connection === 'shop'),
      'the refusal is audited',
    );
  });

  it('an MCP session belongs to its subject', async () => {
    const sid = agent.transport.sessionId;
    assert.ok(sid);
    const res = await fetch(`${gw.apiUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${dbaToken}`,
        'mcp-session-id': sid,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
    });
    assert.equal(res.status, 404);
  });

  it('one MCP session is one recorded gateway session, ended with it', async () => {
    const token = await gw.token('mcp-recorded', ['agents']);
    const c = await mcpClient(gw.apiUrl, token);
    for (const sql of ['SELECT 1', 'SELECT 2', 'DROP TABLE orders']) await c.call('query', { connection: 'shop', sql });
    const store = gw.running.gateway.store;
    const sessions = await store.listSessions({ limit: 100, sub: 'mcp-recorded' });
    assert.equal(sessions.length, 1);
    const [s] = sessions;
    assert.equal(s?.endedAt, null);
    await c.close();
    const ended = await until(async () => {
      const now = await store.getSession(s!.id);
      return now?.endedAt ? now : undefined;
    }, 'the gateway session to end');
    assert.equal(ended.operations, 3);
  });

  it('request_access files a just-in-time request for a jit connection', async () => {
    const oncall = await mcpClient(gw.apiUrl, await gw.token('olivia', ['oncall']));
    open.push(oncall);
    const list = await oncall.call('list_connections');
    assert.deepEqual(list.structuredContent?.connections, [
      { name: 'shop', type: 'postgres', access: 'jit-requestable' },
    ]);
    const q = await oncall.call('query', { connection: 'shop', sql: 'SELECT 1' });
    assert.equal(q.isError, true);
    assert.match(text(q), /just-in-time/);
    const r = await oncall.call('request_access', { connection: 'shop', duration: '30m', reason: 'incident 42' });
    assert.notEqual(r.isError, true, text(r));
    assert.equal(r.structuredContent?.request.state, 'pending');
    assert.match(text(r), /warden access approve /);
  });

  it('DELETE FROM orders returns a review; after `warden reviews approve` by a dba the same query succeeds', async () => {
    const sql = 'DELETE FROM orders';
    const first = await agent.call('query', { connection: 'shop', sql });
    assert.notEqual(first.isError, true, 'a review is not an error');
    const reviewId = first.structuredContent?.reviewId as string;
    assert.match(reviewId, /^r/);
    assert.equal(first.structuredContent?.outcome, 'review');
    assert.match(text(first), new RegExp(`warden reviews approve ${reviewId}`));
    assert.match(text(first), /call query again/);

    const pending = await agent.call('review_status', { reviewId });
    assert.equal(pending.structuredContent?.review.state, 'pending');

    // The agent waits (bounded) while a dba approves with the CLI.
    const waiting = agent.call('review_status', { reviewId, waitSeconds: 30 });
    const approved = await wardenCli(['reviews', 'approve', reviewId, '--gateway', gw.apiUrl, '--token', dbaToken]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, new RegExp(`review ${reviewId}: approved`));
    const decided = await waiting;
    assert.equal(decided.structuredContent?.review.state, 'approved');
    assert.match(text(decided), /call query again/i);

    const second = await agent.call('query', { connection: 'shop', sql });
    assert.notEqual(second.isError, true, text(second));
    assert.equal(second.structuredContent?.outcome, 'ok');
    assert.deepEqual(
      second.structuredContent?.results.map((x: { command: string; rowCount: number }) => [x.command, x.rowCount]),
      [['DELETE', 200]],
    );
  });
});
