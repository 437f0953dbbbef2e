// Sessions opened by REST exec are recorded as `api` sessions (served in-process, so no wire tag
// exists); an outside client naming itself like one (application_name) stays a postgres session.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';

describe('front-door session tags', () => {
  const suite = shopGatewaySuite();

  async function sessionStarts(sub: string): Promise<string[]> {
    await suite.gw.running.gateway.audit.flush();
    const entries = await suite.gw.running.gateway.audit.list({ type: 'session.start' });
    return entries.filter((e) => e.actor === sub).map((e) => String(e.data.protocol));
  }

  it('REST exec sessions are api sessions; a guessed tag stays postgres', async () => {
    const token = await suite.gw.token('tagged', ['agents']);
    const res = await fetch(`${suite.gw.apiUrl}/api/v1/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'shop', input: 'SELECT 1' }),
    });
    assert.equal(res.status, 200);
    const c = new pg.Client({ connectionString: suite.gw.url(token), application_name: 'warden-mcp:0123456789abcdef' });
    await c.connect();
    const app = await c.query('SHOW application_name');
    assert.equal(app.rows[0].application_name, 'warden-mcp:0123456789abcdef');
    await c.end();
    assert.deepEqual((await sessionStarts('tagged')).sort(), ['api', 'postgres']);
  });
});
