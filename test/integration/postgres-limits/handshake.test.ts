// Pre-authentication attacks on the PostgreSQL front door: huge password messages, oversized
// startup packets, idle sockets, a stalled TLS handshake, and floods of unauthenticated sockets.
// Each is cut (with a FATAL where the protocol allows) while authenticated sessions keep working.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  BackendCode,
  MessageWriter,
  writeSSLRequest,
  writeStartupMessage,
} from '../../../src/protocols/postgres/wire/index.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { errorFields, ms, psql, RawClient } from '../postgres/support.js';

const MB = 1024 * 1024;

/** The FATAL the gateway sent, after which it closed the connection. */
async function fatalOf(c: RawClient, timeoutMs = 10_000): Promise<ReturnType<typeof errorFields>> {
  const e = await c.waitFor((m) => m.code === BackendCode.ErrorResponse, timeoutMs);
  await c.waitClosed(timeoutMs);
  const f = errorFields(e);
  assert.equal(f.severity, 'FATAL');
  return f;
}

/** Connect, send a startup packet, wait for the password request. */
async function untilPasswordRequest(port: number, params: Record<string, string> = {}): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.write(writeStartupMessage(c.w, { user: 'agent', database: 'shop', ...params }).flush());
  await c.waitFor((m) => m.code === BackendCode.Authentication);
  return c;
}

/** Announce a `type` message of `size` payload bytes and keep sending its body until the gateway stops us. */
async function sendHuge(c: RawClient, type: number, size: number, chunk: Buffer): Promise<number> {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(size + 4, 1);
  c.write(head);
  let sent = 0;
  while (sent < size && !c.closed && !c.messages.some((m) => m.code === BackendCode.ErrorResponse)) {
    const ok = c.socket.write(chunk);
    sent += chunk.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = () => {
          c.socket.off('drain', done);
          c.socket.off('close', done);
          resolve();
        };
        c.socket.once('drain', done);
        c.socket.once('close', done);
      });
    }
  }
  return sent;
}

/** A plain TCP socket that reads raw bytes (for the one-byte SSLRequest answer). */
function rawSocket(port: number): Promise<{ socket: Socket; bytes: () => Buffer; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const opened = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - opened)));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, bytes: () => Buffer.concat(chunks), closed }));
    socket.once('error', reject);
  });
}

describe('postgres front door: pre-authentication limits', () => {
  let target: TestPostgres;
  /** handshakeTimeout 2s, room for 150 unauthenticated sockets (memory test). */
  let gw: TestGateway;
  /** Small caps: 5 unauthenticated per source, 10 connections in all. */
  let capped: TestGateway;
  let token: string;

  before(async () => {
    target = await startShopPostgres();
    [gw, capped] = await Promise.all([
      startTestGateway(target, { extraYaml: 'limits:\n  handshakeTimeout: 2s\n  unauthenticatedPerSource: 150\n' }),
      startTestGateway(target, {
        extraYaml: 'limits:\n  handshakeTimeout: 5s\n  unauthenticatedPerSource: 5\n  maxConnections: 10\n',
      }),
    ]);
    token = await gw.token('agent-limits', ['agents']);
  });
  after(async () => {
    await gw?.stop();
    await capped?.stop();
    await target?.stop();
  });

  it('100 clients announcing and sending a 63 MiB password message: each gets a FATAL, memory stays flat', async () => {
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    const chunk = Buffer.alloc(MB, 0x61);
    let sent: number[] = [];
    try {
      // Each attacker sends its huge message as soon as it is asked for the password.
      const attacks = await Promise.all(
        Array.from({ length: 100 }, async () => {
          const c = await untilPasswordRequest(gw.pgPort);
          return { c, sent: await sendHuge(c, 0x70, 63 * MB, chunk) };
        }),
      );
      const clients = attacks.map((a) => a.c);
      sent = attacks.map((a) => a.sent);
      const fatals = await Promise.all(clients.map((c) => fatalOf(c)));
      for (const f of fatals) {
        assert.equal(f.code, '08P01');
        assert.match(f.message ?? '', /^password message of 66060288 bytes exceeds the limit of 16385 bytes$/);
      }
      // The gateway stopped them long before the 63 MiB were through.
      assert.ok(Math.max(...sent) < 63 * MB, `a client sent ${Math.max(...sent)} bytes`);
    } finally {
      clearInterval(sampler);
    }
    const grewMb = (peak - baseline) / MB;
    if (process.env.WARDEN_TEST_DEBUG) console.log(`rss grew ${grewMb.toFixed(1)} MB; max sent ${Math.max(...sent)}`);
    assert.ok(grewMb < 50, `RSS grew by ${grewMb.toFixed(1)} MB`);
    // Nothing is left counted: a normal session still logs in.
    const c = await RawClient.session(gw.pgPort, token);
    c.destroy();
  });

  it('another message type instead of the password is refused from its header', async () => {
    const c = await untilPasswordRequest(gw.pgPort);
    await sendHuge(c, 0x51, 63 * MB, Buffer.alloc(64 * 1024));
    const f = await fatalOf(c);
    assert.equal(f.code, '08P01');
    assert.equal(f.message, 'expected a password message');
  });

  it("a startup packet is capped at PostgreSQL's 10,000 bytes (checked from its length field)", async () => {
    // Exactly 10,000 bytes is accepted: 4 length + 4 version + "user\0agent\0database\0shop\0" (26)
    // + "application_name\0" (17) + value + NUL + final NUL.
    const value = 'a'.repeat(10_000 - 8 - 26 - 17 - 2);
    const ok = await untilPasswordRequest(gw.pgPort, { application_name: value });
    ok.destroy();

    const c = await RawClient.connect(gw.pgPort);
    const head = Buffer.alloc(8);
    head.writeInt32BE(10_001, 0);
    head.writeInt32BE(196608, 4);
    c.write(head);
    const f = await fatalOf(c);
    assert.equal(f.code, '08P01');
    assert.match(f.message ?? '', /startup packet of 10001 bytes exceeds 10000/);
  });

  it('idle TCP, a startup packet without the token, a stalled TLS handshake: all cut at the handshake deadline', async () => {
    const started = Date.now();
    const idle = async () => {
      const c = await RawClient.connect(gw.pgPort);
      const f = await fatalOf(c, 8000);
      assert.equal(f.code, '08P01');
      assert.match(f.message ?? '', /handshake timed out after 2000 ms/);
      return Date.now() - started;
    };
    const noToken = async () => {
      const c = await untilPasswordRequest(gw.pgPort);
      const f = await fatalOf(c, 8000);
      assert.match(f.message ?? '', /handshake timed out after 2000 ms/);
      return Date.now() - started;
    };
    // SSLRequest answered with 'S', then silence: no TLS record can carry a FATAL, the socket just closes.
    const tlsStall = async () => {
      const s = await rawSocket(gw.pgPort);
      s.socket.write(writeSSLRequest(new MessageWriter(16)).flush());
      while (s.bytes().length === 0) await ms(5);
      assert.equal(s.bytes().toString(), 'S');
      const lived = await Promise.race([s.closed, ms(8000).then(() => -1)]);
      s.socket.destroy();
      return lived;
    };
    const lived = await Promise.all([idle(), noToken(), tlsStall()]);
    for (const t of lived) assert.ok(t >= 1900 && t < 5000, `cut after ${t} ms (${lived.join(', ')})`);
  });

  it('inside TLS the password cap holds too, and a TLS session with a real token works', async () => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: gw.pgPort,
      database: 'shop',
      user: 'agent',
      password: 'x'.repeat(20_000),
      ssl: { rejectUnauthorized: false },
    });
    client.on('error', () => {});
    await assert.rejects(client.connect(), (e: { code?: string; message?: string }) => {
      assert.equal(e.code, '08P01');
      assert.match(e.message ?? '', /password message of 20001 bytes exceeds the limit of 16385 bytes/);
      return true;
    });
    // A TLS session with a real token works.
    const ok = new pg.Client({
      host: '127.0.0.1',
      port: gw.pgPort,
      database: 'shop',
      user: 'agent',
      password: token,
      ssl: { rejectUnauthorized: false },
    });
    await ok.connect();
    assert.equal((await ok.query('SELECT 1 AS one')).rows[0].one, 1);
    await ok.end();
  });

  it('per-source cap: the 6th unauthenticated socket is refused at once; a global cap; authenticated psql keeps working', async () => {
    const agent = await capped.token('agent-cap', ['agents']);
    // An authenticated psql session, mid-statement while the flood comes.
    const running = psql(capped, agent, { command: 'SELECT pg_sleep(1.5); SELECT 40 + 2' });
    const deadline = Date.now() + 10_000;
    while (capped.running.gateway.sessions.size < 1 && Date.now() < deadline) await ms(20);
    assert.equal(capped.running.gateway.sessions.size, 1);

    const idle = await Promise.all(Array.from({ length: 5 }, () => RawClient.connect(capped.pgPort)));
    await ms(50);
    const sixth = await RawClient.connect(capped.pgPort);
    const refused = await fatalOf(sixth, 2000);
    assert.equal(refused.code, '53300');
    assert.match(refused.message ?? '', /^too many connections from 127\.0\.0\.1 that have not authenticated yet/);

    const r = await running;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').pop(), '42');

    // Closing the idle sockets frees their places: a new psql logs in.
    for (const c of idle) c.destroy();
    await ms(100);
    const again = await psql(capped, agent, { command: 'SELECT 7' });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), '7');

    // Global cap (10): 6 authenticated sessions + 4 unauthenticated sockets fill it; the next is refused.
    const dba = await capped.token('dba-cap', ['dba']);
    // One after another: logging in at once, they would be 6 unauthenticated from one source.
    const sessions: RawClient[] = [];
    for (let i = 0; i < 6; i++) sessions.push(await RawClient.session(capped.pgPort, dba));
    const pending = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(capped.pgPort)));
    await ms(50);
    const over = await RawClient.connect(capped.pgPort);
    const full = await fatalOf(over, 2000);
    assert.equal(full.code, '53300');
    assert.match(full.message ?? '', /too many connections: the gateway holds 10 \(limits\.maxConnections\)/);
    // The authenticated ones still work.
    sessions[0]!.write(Buffer.from([0x51, 0, 0, 0, 13, ...Buffer.from('SELECT 1'), 0]));
    await sessions[0]!.waitFor((m) => m.code === BackendCode.ReadyForQuery);
    for (const c of [...sessions, ...pending]) c.destroy();
    await ms(100);
    const last = await psql(capped, agent, { command: 'SELECT 8' });
    assert.equal(last.stdout.trim(), '8', last.stderr);
  });
});
