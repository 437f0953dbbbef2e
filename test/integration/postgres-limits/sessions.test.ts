// Session limits: one agent cannot take the target's max_connections. limits.sessionsPerIdentity
// caps open sessions per principal, connections.<name>.maxUpstream caps the upstream connections
// the gateway holds; over either the client gets FATAL 53300, the refusal is audited, others (a
// DBA) still connect, and every way a session ends gives its place back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../../src/gateway/index.js';
import { startShopPostgres, startTestGateway, TEST_POLICY, type TestGateway } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';
import { ms, psql, RawClient, runProgram } from '../postgres/support.js';

interface PgError {
  code?: string;
  message?: string;
}

async function open(gw: TestGateway, token: string, connection = 'shop', appName = 'warden-test'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: gw.url(token, connection), application_name: appName });
  c.on('error', () => {});
  await c.connect();
  return c;
}

async function refused(
  gw: TestGateway,
  token: string,
  sqlstate: string,
  message: RegExp,
  connection = 'shop',
): Promise<void> {
  await assert.rejects(open(gw, token, connection), (e: PgError) => {
    assert.equal(e.code, sqlstate, e.message);
    assert.match(e.message ?? '', message);
    return true;
  });
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await ms(20);
  }
}

describe('postgres front door: session limits', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let agentA: string;
  let agentB: string;
  let dba: string;
  const clients: pg.Client[] = [];

  before(async () => {
    // Its own cluster: counts the server's backends of role 'app', database 'shop' by name.
    target = await startShopPostgres({ ownCluster: true });
    const closedPort = await freePort();
    gw = await startTestGateway(target, {
      policy: TEST_POLICY.replaceAll('connections: [shop]', 'connections: [shop, broken]'),
      extraYaml: `    maxUpstream: 5
  broken:
    type: postgres
    host: 127.0.0.1
    port: ${closedPort}
    database: shop
    user: app
    password: nothing-listens-here
    tls: disable
    maxUpstream: 1
limits:
  sessionsPerIdentity: 3
`,
    });
    agentA = await gw.token('agent-a', ['agents']);
    agentB = await gw.token('agent-b', ['agents']);
    dba = await gw.token('dba-1', ['dba']);
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await gw?.stop();
    await target?.stop();
  });

  it('sessionsPerIdentity: the 4th session of one agent gets 53300 (audited); a DBA still connects', async () => {
    for (let i = 0; i < 3; i++) clients.push(await open(gw, agentA, 'shop', `agent-a-${i}`));
    await refused(
      gw,
      agentA,
      '53300',
      /^too many connections for identity 'agent-a(@[^']*)?': 3 sessions open \(limits\.sessionsPerIdentity\)$/,
    );

    const denied = await gw.running.gateway.audit.list({ type: 'session.denied' });
    const mine = denied.filter((r) => r.actor === 'agent-a');
    assert.equal(mine.length, 1);
    assert.equal((mine[0]!.data as { code?: string }).code, 'WARDEN_TOO_MANY_CONNECTIONS');

    // The REST API runs SQL through the same front door: the same limit, as HTTP 429.
    const rest = await fetch(`${gw.apiUrl}/api/v1/exec`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agentA}` },
      body: JSON.stringify({ connection: 'shop', input: 'SELECT 1' }),
    });
    assert.equal(rest.status, 429);
    const problem = (await rest.json()) as { code?: string; detail?: string };
    assert.equal(problem.code, 'WARDEN_TOO_MANY_CONNECTIONS');
    assert.match(problem.detail ?? '', /too many connections for identity 'agent-a(@[^']*)?'/);
    const deniedApi = (await gw.running.gateway.audit.list({ type: 'session.denied' })).filter(
      (r) => r.actor === 'agent-a',
    );
    assert.equal((deniedApi.at(-1)?.data as { protocol?: string } | undefined)?.protocol, 'api');

    const r = await psql(gw, dba, { command: 'SELECT current_database()' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'shop');
  });

  it('maxUpstream: the 6th upstream connection is refused with 53300 for everyone; the DBA reaches the database directly', async () => {
    await until(() => gw.running.gateway.sessions.size === 3, 'the DBA psql session ended');
    clients.push(await open(gw, agentB), await open(gw, agentB));
    await refused(
      gw,
      agentB,
      '53300',
      /^too many connections for target 'shop': the gateway holds 5 \(connections\.shop\.maxUpstream\)$/,
    );
    // Holds for another identity through the gateway too: the limit is the gateway's share of the target.
    const viaGateway = await psql(gw, dba, { command: 'SELECT 1' });
    assert.notEqual(viaGateway.code, 0);
    assert.match(viaGateway.stderr, /too many connections for target 'shop'/);
    // The database itself has room left for its DBA.
    const direct = await runProgram('/usr/bin/psql', [
      '-X',
      '-A',
      '-t',
      '-d',
      target.superuserUrl,
      '-c',
      "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'",
    ]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(direct.stdout.trim(), '5');
    const denied = await gw.running.gateway.audit.list({ type: 'session.denied' });
    assert.ok(
      denied.some((r) => r.actor === 'agent-b' && (r.data as { code?: string }).code === 'WARDEN_TOO_MANY_CONNECTIONS'),
    );
  });

  it('every way a session ends gives its places back: client end, client reset, target gone, target unreachable', async () => {
    // Client ends cleanly: agent B gets the upstream place.
    await clients.shift()!.end();
    await until(() => gw.running.gateway.sessions.size === 4, 'session ended');
    clients.push(await open(gw, agentB));
    await refused(gw, agentB, '53300', /maxUpstream|sessionsPerIdentity/);

    // Target gone: a superuser terminates one of agent A's backends.
    const victim = clients.find(
      (c) =>
        (c as unknown as { connectionParameters: { application_name: string } }).connectionParameters
          .application_name === 'agent-a-1',
    );
    assert.ok(victim);
    const lost = new Promise<void>((resolve) => victim.once('end', () => resolve()));
    await runSql(
      target.superuserUrl,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'agent-a-1'",
    );
    await lost;
    clients.splice(clients.indexOf(victim), 1);
    await until(() => gw.running.gateway.sessions.size === 4, 'session of the terminated backend ended');
    const raw = await RawClient.session(gw.pgPort, agentA);
    assert.equal(gw.running.gateway.sessions.size, 5);

    // Client vanishes without a Terminate (reset): its places come back too.
    raw.socket.resetAndDestroy();
    await until(() => gw.running.gateway.sessions.size === 4, 'reset session ended');
    clients.push(await open(gw, agentA));

    // Target unreachable: each failed attempt gives back both the upstream slot (maxUpstream 1)
    // and the identity's count (3 per identity): four failures in a row all say "unavailable".
    for (let i = 0; i < 4; i++) {
      const carol = await gw.token('agent-c', ['agents']);
      await refused(gw, carol, '08006', /target 'broken' is unavailable/, 'broken');
    }
    await until(() => gw.running.gateway.sessions.size === 5, 'only the five live sessions remain');
  });
});
