// LISTEN/NOTIFY through the gateway: a session's own notifications carry the pid the client was
// given (not the target's real backend pid), and payloads are masked like any other output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';

describe('notifications', () => {
  const suite = shopGatewaySuite();

  it('own notifications name the client pid; payloads are masked', async () => {
    const c = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('listener', ['agents'])) });
    await c.connect();
    const received = new Promise<pg.Notification>((resolve) => c.once('notification', resolve));
    await c.query('LISTEN alerts');
    await c.query("SELECT pg_notify('alerts', 'contact ada@example.com')");
    const n = await received;
    const clientPid = (c as unknown as { processID: number }).processID;
    assert.equal(n.processId, clientPid);
    assert.equal(n.channel, 'alerts');
    assert.doesNotMatch(n.payload ?? '', /ada@example\.com/);
    const real = await c.query('SELECT pg_backend_pid() AS pid');
    assert.notEqual(
      Number(real.rows[0].pid),
      clientPid,
      'the client never learns the real backend pid from BackendKeyData',
    );
    await c.end();
  });
});
