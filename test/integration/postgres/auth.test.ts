// Who gets in through the PostgreSQL front door, and when they are cut off: bad token, unknown
// connection, no access grant (FATAL 28000); target unavailable or lost (FATAL 08006); token
// expiry mid-session (next statement refused, connection closed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../../src/gateway/free-port.js';
import { startShopPostgres, startTestGateway, TEST_POLICY, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { ms, psql } from './support.js';

type PgError = Error & { code?: string; severity?: string };

async function connectError(url: string): Promise<PgError> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  try {
    await c.connect();
  } catch (err) {
    return err as PgError;
  } finally {
    await c.end().catch(() => {});
  }
  throw new Error('the connection was accepted');
}

describe('postgres front door: authentication, target availability, token expiry', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  before(async () => {
    // Its own cluster: a test stops the server under the gateway.
    target = await startShopPostgres({ ownCluster: true });
    const closedPort = await freePort('127.0.0.1');
    // A second connection whose target port has nothing listening.
    const extraYaml = `  down:
    type: postgres
    host: 127.0.0.1
    port: ${closedPort}
    database: shop
    user: app
    password: unused
    tls: disable
`;
    const policy = TEST_POLICY.replace(
      '  - groups: [agents]\n    connections: [shop]',
      '  - groups: [agents]\n    connections: [shop, down]',
    );
    assert.notEqual(policy, TEST_POLICY);
    gw = await startTestGateway(target, { extraYaml, policy });
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('a bad token is refused with FATAL 28000', async () => {
    const err = await connectError(gw.url('not-a-token'));
    assert.equal(err.code, '28000');
    assert.equal(err.severity, 'FATAL');
    // A well-formed token from an unknown signer.
    const forged = 'eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    assert.equal((await connectError(gw.url(forged))).code, '28000');
    const r = await psql(gw, 'not-a-token', { command: 'SELECT 1' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /FATAL: /);
    assert.doesNotMatch(r.stderr, /not-a-token/, 'the presented token is not echoed');
  });

  it('an unknown connection (database name) is refused with FATAL 28000', async () => {
    const token = await gw.token('agent-auth', ['agents']);
    const err = await connectError(gw.url(token, 'nosuchdb'));
    assert.equal(err.code, '28000');
    assert.match(err.message, /nosuchdb/);
  });

  it('no access grant is refused with FATAL 28000', async () => {
    const token = await gw.token('stranger', ['visitors']);
    const err = await connectError(gw.url(token));
    assert.equal(err.code, '28000');
    const r = await psql(gw, token, { command: 'SELECT 1' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /FATAL: /);
  });

  it('a target that does not answer gives FATAL 08006 naming the connection', async () => {
    const token = await gw.token('agent-auth', ['agents']);
    const err = await connectError(gw.url(token, 'down'));
    assert.equal(err.code, '08006');
    assert.match(err.message, /target 'down' is unavailable/);
    const r = await psql(gw, token, { command: 'SELECT 1' }, { dbname: 'down' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /FATAL: {2}target 'down' is unavailable/);
  });

  it('token expiry mid-session: the next statement is refused and the connection closed', async () => {
    const token = await gw.running.devIssuer!.mint({ sub: 'short-lived', groups: ['agents'], ttlMs: 3000 });
    const exp =
      (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { exp: number }).exp *
      1000;
    const simple = new pg.Client({ connectionString: gw.url(token) });
    const extended = new pg.Client({ connectionString: gw.url(token) });
    const ended = [simple, extended].map((c) => {
      c.on('error', () => {});
      return new Promise<void>((resolve) => c.once('end', resolve));
    });
    await simple.connect();
    await extended.connect();
    try {
      assert.equal((await simple.query('SELECT 1 AS n')).rows[0].n, 1);
      // A named prepared statement, executed once before expiry: later executions are decided again.
      const q = { name: 'count-orders', text: 'SELECT count(*)::int AS n FROM orders' };
      assert.equal((await extended.query(q)).rows[0].n, 200);
      await ms(Math.max(0, exp - Date.now()) + 200);
      await assert.rejects(simple.query('SELECT 2 AS n'), (err: PgError) => {
        assert.equal(err.code, '28000');
        assert.match(err.message, /session ended: identity token expired/);
        return true;
      });
      await assert.rejects(extended.query(q), (err: PgError) => {
        assert.equal(err.code, '28000');
        return true;
      });
      await Promise.all(ended);
      await assert.rejects(simple.query('SELECT 3'));
    } finally {
      await simple.end().catch(() => {});
      await extended.end().catch(() => {});
    }
  });

  it('the target going down mid-session gives FATAL 08006, then new connections get 08006', async () => {
    const token = await gw.token('agent-auth', ['agents']);
    const c = new pg.Client({ connectionString: gw.url(token) });
    const errors: PgError[] = [];
    c.on('error', (err) => errors.push(err));
    await c.connect();
    assert.equal((await c.query('SELECT 1 AS n')).rows[0].n, 1);
    await target.stop();
    const deadline = Date.now() + 10_000;
    while (errors.length === 0 && Date.now() < deadline) await ms(50);
    await ms(200);
    // PostgreSQL's own shutdown FATAL (57P01) may arrive first; else the gateway's 08006.
    const told = errors.find((e) => e.code === '08006' || e.code === '57P01');
    assert.ok(told, `the client was told why: ${errors.map((e) => `${e.code} ${e.message}`).join('; ')}`);
    await c.end().catch(() => {});
    const err = await connectError(gw.url(token));
    assert.equal(err.code, '08006');
    assert.match(err.message, /target 'shop' is unavailable/);
  });
});
