// MCP re-authorised per call: a session is bound to the principal (issuer, sub) that opened it,
// and each call decides, masks, audits and records with its own token's identity. Two issuers:
// the dev issuer and a real oidc-provider issuing the same `sub`.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { type OidcTestProvider, startOidcProvider } from '../../helpers/oidc.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { type McpTestClient, mcpClient, text } from '../mcp/support.js';

const SQL = "SELECT email FROM customers WHERE email = 'ada@example.com'";

/** One JSON-RPC request on an existing MCP session with the given token. */
async function rpc(gw: TestGateway, sid: string, token: string, body: Record<string, unknown>) {
  const res = await fetch(`${gw.apiUrl}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...body }),
  });
  const raw = await res.text();
  // The SDK answers a POST as SSE (`data: {...}`) or plain JSON.
  const data = /^data: (.*)$/m.exec(raw)?.[1] ?? raw;
  // biome-ignore lint/suspicious/noExplicitAny: asserted field by field
  return { status: res.status, json: JSON.parse(data) as any };
}

describe('MCP sessions are re-authorised on every call', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let oidc: OidcTestProvider;
  const open: McpTestClient[] = [];

  before(async () => {
    oidc = await startOidcProvider();
    target = await startShopPostgres();
    gw = await startTestGateway(target, { issuers: [oidc.issuer] });
  });
  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    await gw?.stop();
    await target?.stop();
    await oidc?.stop();
  });

  it('[dba] opens the session and sees clear values; an [agents] token of the same subject on it gets masked values', async () => {
    const dba = await gw.token('mallory', ['dba']);
    const c = await mcpClient(gw.apiUrl, dba);
    open.push(c);
    const first = await c.call('query', { connection: 'shop', sql: SQL });
    assert.notEqual(first.isError, true, text(first));
    assert.equal(first.structuredContent?.results[0].rows[0][0], 'ada@example.com');
    assert.equal(first.structuredContent?.effect, 'allow');

    const sid = c.transport.sessionId as string;
    const agents = await gw.token('mallory', ['agents']);
    const second = await rpc(gw, sid, agents, {
      id: 2,
      method: 'tools/call',
      params: { name: 'query', arguments: { connection: 'shop', sql: SQL } },
    });
    assert.equal(second.status, 200);
    const result = second.json.result;
    assert.notEqual(result.isError, true, JSON.stringify(result));
    assert.equal(result.structuredContent.effect, 'mask');
    const value = result.structuredContent.results[0].rows[0][0];
    assert.notEqual(value, 'ada@example.com');
    assert.doesNotMatch(JSON.stringify(result), /ada@example\.com/);

    // describe_connection on that call marks the column masked, as the [agents] identity.
    const described = await rpc(gw, sid, agents, {
      id: 3,
      method: 'tools/call',
      params: { name: 'describe_connection', arguments: { connection: 'shop', table: 'customers' } },
    });
    const email = described.json.result.structuredContent.tables[0].columns.find(
      (col: { name: string }) => col.name === 'email',
    );
    assert.equal(email.masked, true);

    // Audit: the [agents] call ran in a gateway session started with groups [agents].
    const audit = gw.running.gateway.audit;
    const ops = (await audit.list({ type: 'operation' })).filter(
      (e) => e.actor === 'mallory' && /FROM customers/i.test(String(e.data.text)),
    );
    assert.equal(ops.length, 2, 'one audited operation per query call');
    const starts = await audit.list({ type: 'session.start' });
    const groupsOf = (session: string | null) => starts.find((s) => s.session === session)?.data.groups;
    const [dbaOp, agentsOp] = ops.sort((a, b) => a.seq - b.seq);
    assert.deepEqual(groupsOf(dbaOp!.session), ['dba']);
    assert.deepEqual(groupsOf(agentsOp!.session), ['agents']);
    assert.equal(agentsOp!.data.effect, 'mask');
    assert.notEqual(dbaOp!.session, agentsOp!.session);

    // The recording of the [agents] call names [agents] and holds no clear value.
    const rec = await gw.running.gateway.store.getSession(agentsOp!.session as string);
    assert.ok(rec);
    assert.deepEqual(rec.groups, ['agents']);
    assert.equal(rec.issuer, `${gw.apiUrl}/dev`);
    const recording = await readFile(rec.recordingPath, 'utf8');
    assert.match(recording, /"agents"/);
    assert.doesNotMatch(recording, /"dba"/);
    assert.doesNotMatch(recording, /ada@example\.com/);

    // Back to the [dba] token: clear again (its own client, not the [agents] one).
    const third = await c.call('query', { connection: 'shop', sql: SQL });
    assert.equal(third.structuredContent?.results[0].rows[0][0], 'ada@example.com');
    // The replaced front-door client is closed: the [agents] gateway session ends.
    const end = Date.now() + 60_000; // a hang guard, not a latency bound
    for (;;) {
      const s = await gw.running.gateway.store.getSession(agentsOp!.session as string);
      if (s?.endedAt) break;
      if (Date.now() > end) assert.fail('the [agents] gateway session did not end after the client was replaced');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('a token of the same sub at another issuer is refused on that session, and so is another sub', async () => {
    const dev = await gw.token('oc-1', ['agents']);
    const c = await mcpClient(gw.apiUrl, dev);
    open.push(c);
    const sid = c.transport.sessionId as string;
    const call = { id: 5, method: 'tools/call', params: { name: 'list_connections', arguments: {} } };

    const otherIssuer = await oidc.getToken({ sub: 'oc-1', groups: ['agents'] });
    const refused = await rpc(gw, sid, otherIssuer, call);
    assert.equal(refused.status, 404);
    assert.equal(refused.json.error.code, -32001);

    const otherSub = await gw.token('oc-2', ['agents']);
    assert.equal((await rpc(gw, sid, otherSub, call)).status, 404);

    // DELETE with the other issuer's token does not end it either.
    const del = await fetch(`${gw.apiUrl}/mcp`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${otherIssuer}`, 'mcp-session-id': sid },
    });
    assert.equal(del.status, 404);

    // The owner's session still works, with a fresh token of the same principal.
    const refreshed = await gw.token('oc-1', ['agents']);
    const ok = await rpc(gw, sid, refreshed, call);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json.result.structuredContent.connections, [
      { name: 'shop', type: 'postgres', access: 'granted' },
    ]);

    // The other issuer's oc-1 opens its own session normally.
    const theirs = await mcpClient(gw.apiUrl, otherIssuer);
    open.push(theirs);
    const q = await theirs.call('query', { connection: 'shop', sql: 'SELECT 1 AS one' });
    assert.deepEqual(q.structuredContent?.results[0].rows, [[1]]);
    assert.notEqual(theirs.transport.sessionId, sid);
  });

  it('a call whose token lost its groups loses their access on the open session', async () => {
    const c = await mcpClient(gw.apiUrl, await gw.token('grace', ['agents']));
    open.push(c);
    const sid = c.transport.sessionId as string;
    const before = await c.call('query', { connection: 'shop', sql: 'SELECT 1 AS one' });
    assert.deepEqual(before.structuredContent?.results[0].rows, [[1]]);
    // The identity provider removed grace from [agents]: the next call carries no groups.
    const none = await gw.token('grace', []);
    const after = await rpc(gw, sid, none, {
      id: 7,
      method: 'tools/call',
      params: { name: 'query', arguments: { connection: 'shop', sql: 'SELECT 1 AS one' } },
    });
    assert.equal(after.json.result.isError, true);
    assert.match(after.json.result.content[0].text, /no connection named 'shop'/);
  });
});
