// Finding 9: identity is re-checked per operation, including between a Parse and its first
// Bind/Execute and between the chunks of a suspended portal. A token that expired or was revoked
// meanwhile gets 28000 and the session ends; no row is sent after that.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writeBind, writeExecute, writeParse, writeSync } from '../../../src/protocols/postgres/wire/index.js';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { summarize, WireClient } from '../../helpers/wire-client.js';
import { ms } from './support.js';

const expiryOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as { exp: number }).exp * 1000;

describe('bypass: identity lapses between prepare and execution', () => {
  const suite = shopGatewaySuite();

  async function shortLived(sub: string): Promise<{ token: string; waitExpiry: () => Promise<void> }> {
    const token = await suite.gw.token(sub, ['agents'], 3000);
    const exp = expiryOf(token);
    return { token, waitExpiry: () => ms(Math.max(0, exp - Date.now()) + 300) };
  }

  const revoke = (sub: string) => suite.gw.running.gateway.revocations.add({ sub });

  /** After the lapse: the next Bind/Execute gets 28000, no DataRow, and the server closes the session. */
  async function assertCut(c: WireClient, what: string): Promise<void> {
    c.send((w) => {
      writeBind(w, { portal: '', statement: 'e' });
      writeExecute(w);
      writeSync(w);
    });
    const out = summarize(await c.untilReady(1, 5000));
    assert.equal(out.rows.length, 0, `${what}: rows were sent after the lapse`);
    assert.equal(out.errors[0]?.code, '28000', `${what}: ${out.codes} ${JSON.stringify(out.errors)}`);
    await c.waitClosed(5000);
  }

  async function parsed(token: string): Promise<WireClient> {
    const c = await WireClient.gateway(suite.gw.pgPort, token);
    c.send((w) => {
      writeParse(w, 'e', 'SELECT name FROM customers ORDER BY id');
      writeSync(w);
    });
    const out = summarize(await c.untilReady());
    assert.equal(out.errors.length, 0, JSON.stringify(out.errors));
    return c;
  }

  it('token expires after Parse, before the first Bind/Execute', async () => {
    const { token, waitExpiry } = await shortLived('lapse-expire');
    const c = await parsed(token);
    try {
      await waitExpiry();
      await assertCut(c, 'expired');
    } finally {
      c.destroy();
    }
  });

  it('token revoked after Parse, before the first Bind/Execute', async () => {
    const c = await parsed(await suite.gw.token('lapse-revoke', ['agents']));
    try {
      revoke('lapse-revoke');
      await assertCut(c, 'revoked');
    } finally {
      c.destroy();
    }
  });

  async function suspendedPortal(token: string): Promise<WireClient> {
    const c = await WireClient.gateway(suite.gw.pgPort, token);
    await c.query('BEGIN');
    c.send((w) => {
      writeParse(w, '', 'SELECT id FROM orders ORDER BY id');
      writeBind(w, { portal: 'cur', statement: '' });
      writeExecute(w, 'cur', 5);
      writeSync(w);
    });
    const first = summarize(await c.untilReady());
    assert.equal(first.rows.length, 5, first.codes);
    assert.match(first.codes, /s/, 'PortalSuspended');
    return c;
  }

  async function assertPortalCut(c: WireClient, what: string): Promise<void> {
    c.send((w) => {
      writeExecute(w, 'cur', 5);
      writeSync(w);
    });
    const next = summarize(await c.untilReady(1, 5000));
    assert.equal(next.rows.length, 0, `${what}: the suspended portal kept streaming`);
    assert.equal(next.errors[0]?.code, '28000', `${what}: ${next.codes}`);
    await c.waitClosed(5000);
  }

  it('a suspended portal is cut when the token expires', async () => {
    const { token, waitExpiry } = await shortLived('portal-expire');
    const c = await suspendedPortal(token);
    try {
      await waitExpiry();
      await assertPortalCut(c, 'expired');
    } finally {
      c.destroy();
    }
  });

  it('a suspended portal is cut when the token is revoked', async () => {
    const c = await suspendedPortal(await suite.gw.token('portal-revoke', ['agents']));
    try {
      revoke('portal-revoke');
      await assertPortalCut(c, 'revoked');
    } finally {
      c.destroy();
    }
  });
});
