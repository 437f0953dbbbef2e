// Hostile and broken clients at the PostgreSQL front door: a startup packet announcing > 1 GiB,
// truncated messages then close, an unknown message type, garbage after authentication, a client
// that disconnects mid-result. Each such session ends (with a protocol-native FATAL while the
// socket is open), the gateway's memory stays bounded, a parallel session keeps working, the
// target backends are released, and the audit chain still verifies.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { BackendCode, writeQuery, writeStartupMessage } from '../../../src/protocols/postgres/wire/index.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';
import { errorFields, ms, RawClient } from './support.js';

const MB = 1024 * 1024;

describe('postgres front door: bad input', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let token: string;
  let bystander: pg.Client;
  let rssBefore = 0;

  /** The parallel session still answers, with masking intact. */
  async function bystanderWorks(): Promise<void> {
    const r = await bystander.query('SELECT name, email FROM customers WHERE id = $1', [1]);
    assert.equal(r.rows[0].name, 'Ada Lovelace');
    assert.notEqual(r.rows[0].email, 'ada@example.com');
  }

  /** The session's FATAL ErrorResponse, then the server closes the socket. */
  async function expectFatal(c: RawClient, sqlstate: string, message: RegExp): Promise<void> {
    const e = await c.waitFor((m) => m.code === BackendCode.ErrorResponse);
    const f = errorFields(e);
    assert.equal(f.severity, 'FATAL');
    assert.equal(f.code, sqlstate);
    assert.match(f.message ?? '', message);
    await c.waitClosed();
  }

  /** Gateway sessions other than the bystander's end (recorded and audited). */
  async function onlyBystanderLeft(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (gw.running.gateway.sessions.size > 1 && Date.now() < deadline) await ms(50);
    assert.equal(gw.running.gateway.sessions.size, 1);
  }

  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target);
    token = await gw.token('agent-bad', ['agents']);
    bystander = new pg.Client({ connectionString: gw.url(token) });
    await bystander.connect();
    await bystanderWorks();
    global.gc?.();
    rssBefore = process.memoryUsage().rss;
  });
  after(async () => {
    await bystander?.end().catch(() => {});
    await gw?.stop();
    await target?.stop();
  });

  it('a startup packet announcing more than 1 GiB is refused without buffering it', async () => {
    const c = await RawClient.connect(gw.pgPort);
    const head = Buffer.alloc(8);
    head.writeInt32BE(0x40000010, 0); // 1 GiB + 16
    head.writeInt32BE(196608, 4);
    c.write(head);
    // Keep sending: the gateway must not accumulate it.
    const junk = Buffer.alloc(MB, 0x61);
    for (let i = 0; i < 32 && !c.closed; i++) {
      c.write(junk);
      await ms(5);
    }
    await expectFatal(c, '08P01', /invalid startup packet: startup packet of \d+ bytes exceeds/);
    await bystanderWorks();
  });

  it('truncated messages, then close: during the handshake and after authentication', async () => {
    // Half a startup packet.
    const a = await RawClient.connect(gw.pgPort);
    const startup = writeStartupMessage(a.w, { user: 'agent', database: 'shop' }).flush();
    a.write(startup.subarray(0, 10));
    a.socket.end();
    await a.waitClosed();

    // Authenticated, then half a Query message and a close.
    const b = await RawClient.session(gw.pgPort, token);
    const q = writeQuery(b.w, 'SELECT name FROM customers').flush();
    b.write(q.subarray(0, q.length - 7));
    b.socket.end();
    await b.waitClosed();
    await onlyBystanderLeft();
    await bystanderWorks();
  });

  it('an unknown message type after authentication ends the session with FATAL 08P01', async () => {
    const c = await RawClient.session(gw.pgPort, token);
    c.write(Buffer.from([0x7a, 0, 0, 0, 4])); // 'z', empty
    await expectFatal(c, '08P01', /unknown message type 0x7a/);
    await onlyBystanderLeft();
    await bystanderWorks();
  });

  it('garbage after authentication ends the session with FATAL 08P01', async () => {
    // A bad length.
    const a = await RawClient.session(gw.pgPort, token);
    a.write(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    await expectFatal(a, '08P01', /invalid message from client/);
    // A Query whose text is not terminated.
    const b = await RawClient.session(gw.pgPort, token);
    b.write(Buffer.from([0x51, 0, 0, 0, 8, 0x53, 0x45, 0x4c, 0x45]));
    await expectFatal(b, '08P01', /invalid message from client/);
    // A frame announcing more than the largest accepted message.
    const c = await RawClient.session(gw.pgPort, token);
    const big = Buffer.alloc(5);
    big[0] = 0x51;
    big.writeInt32BE(0x7ffffff0, 1);
    c.write(big);
    await expectFatal(c, '08P01', /exceeds/);
    // Random bytes: refused on the type byte, without waiting for the 38 MB its length announces.
    const d = await RawClient.session(gw.pgPort, token);
    d.write(Buffer.from('\u0001\u0002GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1'));
    await expectFatal(d, '08P01', /unknown message type 0x1 /);
    // A Sync announcing 16 MB: refused on the header.
    const e = await RawClient.session(gw.pgPort, token);
    e.write(Buffer.from([0x53, 0x01, 0, 0, 0, 0]));
    await expectFatal(e, '08P01', /too large/);
    await onlyBystanderLeft();
    await bystanderWorks();
  });

  it('a client that disconnects mid-result: the session ends and the target backend is released', async () => {
    const backends = async () =>
      Number(
        (
          await runSql(
            target.superuserUrl,
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend'",
            [target.user],
          )
        )[0]?.n,
      );
    const baseline = await backends();
    for (let round = 0; round < 2; round++) {
      const c = await RawClient.session(gw.pgPort, token);
      // About 200 MB of rows with a masked column; read the first bytes, then vanish.
      c.write(
        writeQuery(
          c.w,
          "SELECT g, 'user' || g || '@example.com' AS email, repeat('x', 100) AS pad FROM generate_series(1, 1500000) g",
        ).flush(),
      );
      await c.waitFor((m) => m.code === BackendCode.DataRow, 30_000);
      c.destroy();
      await onlyBystanderLeft();
      await bystanderWorks();
    }
    const deadline = Date.now() + 15_000;
    let now = await backends();
    while (now > baseline && Date.now() < deadline) {
      await ms(200);
      now = await backends();
    }
    assert.ok(now <= baseline, `target backends: ${now} now, ${baseline} before`);
  });

  it('memory stays bounded and the audit chain verifies', async () => {
    global.gc?.();
    await ms(200);
    const grown = process.memoryUsage().rss - rssBefore;
    assert.ok(grown < 150 * MB, `RSS grew by ${Math.round(grown / MB)} MB`);
    await bystanderWorks();
    const v = await gw.running.gateway.audit.verify();
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.ok(v.checked > 10);
    const ends = await gw.running.gateway.audit.list({ type: 'session.end', limit: 1000 });
    assert.ok(ends.length >= 7, `session.end records: ${ends.length}`);
  });
});
