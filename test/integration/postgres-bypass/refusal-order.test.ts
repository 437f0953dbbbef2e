// A refusal the gateway queues behind an answer the server is still sending arrives where
// PostgreSQL would put it: after that answer's last message (RowDescription or NoData of a
// Describe, PortalSuspended of a partial Execute), never before it. Clients match replies to
// requests by position, so a refusal out of place attaches to the wrong request.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  writeBind,
  writeDescribe,
  writeExecute,
  writeParse,
  writeSync,
} from '../../../src/protocols/postgres/wire/index.js';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { RawClient } from '../postgres/support.js';

describe('bypass: refusal order behind a pending answer', () => {
  const suite = shopGatewaySuite();

  async function codesOf(frames: (c: RawClient) => Buffer[]): Promise<string> {
    const token = await suite.gw.token('order-probe', ['agents']);
    const c = await RawClient.session(suite.gw.pgPort, token);
    try {
      c.write(Buffer.concat(frames(c)));
      await c.waitFor((m) => m.code === 0x5a);
      return c.messages.map((m) => String.fromCharCode(m.code)).join('');
    } finally {
      c.socket.destroy();
    }
  }

  for (const [label, sql, expected] of [
    ['RowDescription', 'SELECT 1 AS one', '1tTEZ'],
    ['NoData', 'SET application_name = x', '1tnEZ'],
  ] as const) {
    it(`after a Describe answered with ${label}`, async () => {
      const codes = await codesOf((c) => [
        writeParse(c.w, 's1', sql).flush(),
        writeDescribe(c.w, 'S', 's1').flush(),
        writeBind(c.w, { statement: 'nope' }).flush(),
        writeExecute(c.w).flush(),
        writeSync(c.w).flush(),
      ]);
      assert.equal(codes, expected);
    });
  }

  it('after an Execute suspended by its row limit', async () => {
    const codes = await codesOf((c) => [
      writeParse(c.w, '', 'SELECT generate_series(1, 3) AS n').flush(),
      writeBind(c.w, {}).flush(),
      writeExecute(c.w, '', 1).flush(),
      writeExecute(c.w, 'nope').flush(),
      writeSync(c.w).flush(),
    ]);
    assert.equal(codes, '12DsEZ');
  });
});
