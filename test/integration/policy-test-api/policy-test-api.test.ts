// POST /api/v1/policy/test over real HTTP against a real gateway (issue 9, item 5): admins test as
// anyone; everyone else only as themselves with exactly their own token's groups (403 otherwise,
// so a caller cannot learn another group's access and masking); a connection the caller cannot
// see answers 404 exactly like one that does not exist.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shopGatewaySuite, TEST_POLICY } from '../../helpers/gateway.js';

// A second connection only the dba group may use (the lines continue the config's `connections:`).
const HIDDEN = `  hidden:
    type: postgres
    host: 127.0.0.1
    port: 1
    database: shop
    user: app
    password: \${env:TEST_SHOP_PASSWORD}
    tls: disable
`;
const POLICY = TEST_POLICY.replace('access:\n', 'access:\n  - groups: [dba]\n    connections: [hidden]\n');

interface Answer {
  status: number;
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: fields are asserted one by one
  body: Record<string, any>;
}

describe('POST /api/v1/policy/test', () => {
  const suite = shopGatewaySuite({ extraYaml: HIDDEN, policy: POLICY });

  const test = async (token: string, body: unknown): Promise<Answer> => {
    const res = await fetch(`${suite.gw.apiUrl}/api/v1/policy/test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (await res.json()) as Answer['body'],
    };
  };
  const EMAIL = 'SELECT email FROM customers';

  it('a non-admin asking with groups other than exactly their own gets 403 problem JSON and no decision', async () => {
    const agent = await suite.gw.token('agent-1', ['agents']);
    for (const as of [
      { sub: 'agent-1', groups: ['dba'] },
      { sub: 'agent-1', groups: ['agents', 'dba'] },
      { sub: 'agent-1', groups: [] },
      { sub: 'agent-1', groups: ['admins'] },
      { sub: 'dana', groups: ['agents'] },
      { sub: 'dana' },
      { sub: 'agent-1', issuer: 'https://other-issuer.example', groups: ['agents'] },
    ]) {
      const r = await test(agent, { as, connection: 'shop', input: EMAIL });
      assert.equal(r.status, 403, `${JSON.stringify(as)}: ${JSON.stringify(r.body)}`);
      assert.match(r.type, /^application\/problem\+json/);
      assert.equal(r.body.status, 403);
      assert.equal(r.body.code, 'WARDEN_ACCESS_DENIED');
      assert.equal(r.body.effect, undefined, 'no decision in a refusal');
      assert.doesNotMatch(JSON.stringify(r.body), /masking|unmasked/);
    }
  });

  it('a non-admin testing as themselves (no "as", or their own sub with exactly their groups) gets 200', async () => {
    const agent = await suite.gw.token('agent-1', ['agents']);
    for (const body of [
      { connection: 'shop', input: EMAIL },
      { as: { sub: 'agent-1' }, connection: 'shop', input: EMAIL },
      { as: { sub: 'agent-1', groups: ['agents'] }, connection: 'shop', input: EMAIL },
    ]) {
      const r = await test(agent, body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.effect, 'mask', 'agents see email masked');
      assert.ok(r.body.masking.columns.includes('email'));
    }
    // Same groups in another order are the same groups.
    const two = await suite.gw.token('pat', ['oncall', 'agents']);
    const r = await test(two, { as: { sub: 'pat', groups: ['agents', 'oncall'] }, connection: 'shop', input: EMAIL });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  it('an admin may test as anyone, with any groups, on any configured connection', async () => {
    const admin = await suite.gw.token('auditor', ['admins']);
    const asDba = await test(admin, { as: { sub: 'dana', groups: ['dba'] }, connection: 'shop', input: EMAIL });
    assert.equal(asDba.status, 200, JSON.stringify(asDba.body));
    assert.equal(asDba.body.effect, 'allow', 'dba sees email in clear');
    const asAgent = await test(admin, {
      as: { sub: 'someone', groups: ['agents'] },
      connection: 'shop',
      input: 'DELETE FROM orders',
    });
    assert.equal(asAgent.status, 200);
    assert.equal(asAgent.body.effect, 'review');
    const hidden = await test(admin, { as: { sub: 'dana', groups: ['dba'] }, connection: 'hidden', input: 'SELECT 1' });
    assert.equal(hidden.status, 200, 'admins administer every connection');
    assert.equal(hidden.body.effect, 'allow');
  });

  it('an unknown connection, or one the caller cannot see, answers the same 404', async () => {
    const agent = await suite.gw.token('agent-1', ['agents']);
    const sales = await suite.gw.token('sam', ['sales']);
    const admin = await suite.gw.token('auditor', ['admins']);
    const notFound = (r: Answer, name: string) => {
      assert.equal(r.status, 404, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.type, /^application\/problem\+json/);
      assert.equal(r.body.code, 'WARDEN_CONNECTION_UNKNOWN');
      assert.equal(r.body.effect, undefined);
    };
    const unknown = await test(agent, { connection: 'nope', input: 'SELECT 1' });
    notFound(unknown, 'unknown');
    const invisible = await test(agent, { connection: 'hidden', input: 'SELECT 1' });
    notFound(invisible, 'hidden for agents');
    // Indistinguishable from a connection that does not exist (only the name differs).
    assert.deepEqual(
      { ...invisible.body, detail: invisible.body.detail.replace("'hidden'", "'X'") },
      { ...unknown.body, detail: unknown.body.detail.replace("'nope'", "'X'") },
    );
    notFound(await test(sales, { connection: 'shop', input: 'SELECT 1' }), 'shop for a group without access');
    notFound(await test(agent, { connection: '__proto__', input: 'SELECT 1' }), '__proto__');
    notFound(
      await test(admin, { as: { sub: 'x', groups: ['dba'] }, connection: 'nope', input: 'SELECT 1' }),
      'admin, unknown',
    );
  });

  it('a connection visible through a just-in-time entry answers 200 (it can be requested)', async () => {
    const oncall = await suite.gw.token('olivia', ['oncall']);
    const r = await test(oncall, { connection: 'shop', input: 'SELECT 1' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.effect, 'block', 'no grant yet');
  });

  it('the dba group sees its own connection', async () => {
    const dba = await suite.gw.token('dana', ['dba']);
    const r = await test(dba, { as: { sub: 'dana', groups: ['dba'] }, connection: 'hidden', input: 'SELECT 1' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.effect, 'allow');
  });

  it('no token is 401, before anything else', async () => {
    const res = await fetch(`${suite.gw.apiUrl}/api/v1/policy/test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ as: { sub: 'x', groups: ['dba'] }, connection: 'shop', input: 'SELECT 1' }),
    });
    assert.equal(res.status, 401);
    await res.arrayBuffer();
  });
});
