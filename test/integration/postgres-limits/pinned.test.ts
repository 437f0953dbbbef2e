// The pinning check and the accept-side limit pieces on their own, plus the refusal path a real
// PostgreSQL cannot show (it always honours the startup options): a hostile target that reports
// standard_conforming_strings=off anyway gets its session refused.
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ConnectionLimiter, HandshakeTimeout, sourceKey } from '../../../src/protocols/limits.js';
import { escapeOption, roleFor, upstreamOptions } from '../../../src/protocols/postgres/engine.js';
import {
  clientEncodingAccepted,
  PINNED_OPTIONS,
  pinnedParameterProblem,
  pinnedParametersProblem,
} from '../../../src/protocols/postgres/pinned.js';
import { UpstreamSlots } from '../../../src/protocols/postgres/upstream/index.js';
import {
  MessageReader,
  MessageWriter,
  parseStartupPacket,
  writeAuthenticationOk,
  writeBackendKeyData,
  writeParameterStatus,
  writeReadyForQuery,
} from '../../../src/protocols/postgres/wire/index.js';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { ms } from '../postgres/support.js';

describe('pinned parameters', () => {
  it('pinnedParameterProblem: only the pinned values pass', () => {
    assert.equal(pinnedParameterProblem('standard_conforming_strings', 'on'), null);
    assert.equal(pinnedParameterProblem('client_encoding', 'UTF8'), null);
    assert.equal(pinnedParameterProblem('TimeZone', 'Europe/Paris'), null);
    assert.equal(pinnedParameterProblem('application_name', 'off'), null);
    assert.match(
      pinnedParameterProblem('standard_conforming_strings', 'off') ?? '',
      /standard_conforming_strings="off"; Warden requires standard_conforming_strings=on/,
    );
    assert.match(
      pinnedParameterProblem('client_encoding', 'SJIS') ?? '',
      /client_encoding="SJIS"; Warden requires client_encoding=UTF8/,
    );
    assert.notEqual(
      pinnedParameterProblem('CLIENT_ENCODING', 'utf8'),
      null,
      'the server reports the canonical name; anything else is suspect',
    );
    assert.notEqual(pinnedParameterProblem('Standard_Conforming_Strings', 'off'), null);
  });

  it('pinnedParametersProblem: a missing pinned parameter is a problem too', () => {
    const ok = new Map([
      ['client_encoding', 'UTF8'],
      ['standard_conforming_strings', 'on'],
      ['server_version', '15'],
    ]);
    assert.equal(pinnedParametersProblem(ok), null);
    assert.match(
      pinnedParametersProblem(new Map([['client_encoding', 'UTF8']])) ?? '',
      /did not report standard_conforming_strings/,
    );
    assert.match(
      pinnedParametersProblem(new Map([...ok, ['standard_conforming_strings', 'off']])) ?? '',
      /standard_conforming_strings="off"/,
    );
  });

  it('clientEncodingAccepted: the spellings PostgreSQL accepts for UTF-8 and SQL_ASCII', () => {
    for (const e of ['UTF8', 'utf8', 'UTF-8', 'utf_8', 'Unicode', 'UNICODE', 'SQL_ASCII', 'sqlascii', 'Sql-Ascii']) {
      assert.equal(clientEncodingAccepted(e), 'UTF8', e);
    }
    for (const e of ['SJIS', 'BIG5', 'GBK', 'LATIN1', 'WIN1252', 'auto', '', 'utf16', 'utf8mb4']) {
      assert.equal(clientEncodingAccepted(e), null, e);
    }
  });

  it('upstream options always carry the pinned settings; the client cannot override them', () => {
    const o = upstreamOptions(
      { type: 'postgres', recordRows: 1 },
      {
        client_encoding: 'SJIS',
        CLIENT_ENCODING: 'BIG5',
        options: '-c standard_conforming_strings=off',
        Options: '-c role=postgres',
        application_name: 'psql',
      },
    );
    assert.deepEqual(o.params, { application_name: 'psql', client_encoding: 'UTF8', options: PINNED_OPTIONS });
    assert.equal(PINNED_OPTIONS, '-c standard_conforming_strings=on -c backslash_quote=safe_encoding');
  });

  it('roles: first group in the identity order; options escaping', () => {
    const roles = { agents: 'reader', dba: 'admin' };
    assert.equal(roleFor({ groups: ['x', 'dba', 'agents'] }, roles), 'admin');
    assert.equal(roleFor({ groups: ['agents', 'dba'] }, roles), 'reader');
    assert.equal(roleFor({ groups: ['x'] }, roles), undefined);
    assert.equal(roleFor({ groups: ['constructor', '__proto__'] }, roles), undefined);
    assert.equal(roleFor({ groups: ['agents'] }, undefined), undefined);
    assert.equal(escapeOption('report reader'), 'report\\ reader');
    assert.equal(escapeOption('a\\b\tc'), 'a\\\\b\\\tc');
    const o = upstreamOptions({ type: 'postgres', recordRows: 1 }, {}, 'x -c role=postgres');
    assert.equal(o.params?.options, `${PINNED_OPTIONS} -c role=x\\ -c\\ role=postgres`);
  });
});

describe('accept-side limits', () => {
  let server: Server;
  let port = 0;
  const accepted: Socket[] = [];
  before(async () => {
    server = createServer((s) => accepted.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of accepted) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  async function socketPair(): Promise<{ client: Socket; server: Socket }> {
    const n = accepted.length;
    const client = connect({ host: '127.0.0.1', port });
    client.on('error', () => {});
    while (accepted.length === n) await ms(2);
    return { client, server: accepted[n] as Socket };
  }

  it('counts per source until authenticated, globally until closed; a deadline aborts', async () => {
    const limiter = new ConnectionLimiter({ maxConnections: 3, unauthenticatedPerSource: 2, handshakeTimeoutMs: 150 });
    const a = await socketPair();
    const b = await socketPair();
    const c = await socketPair();
    const ta = limiter.admit(a.server);
    const tb = limiter.admit(b.server);
    assert.ok(ta.ok && tb.ok);
    const refused = limiter.admit(c.server);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.reason, 'unauthenticated-per-source');

    ta.authenticated();
    assert.equal(limiter.unauthenticatedFrom('127.0.0.1'), 1);
    const tc = limiter.admit(c.server);
    assert.ok(tc.ok);
    tc.handshakeDone(); // credentials presented in time, not verified yet: still counted per source
    assert.equal(limiter.connections, 3);
    const d = await socketPair();
    const full = limiter.admit(d.server);
    assert.equal(!full.ok && full.reason, 'max-connections');

    // tb never authenticates: its signal aborts at the deadline, and its socket is cut after a grace.
    const reason = await new Promise<unknown>((r) => tb.signal.addEventListener('abort', () => r(tb.signal.reason)));
    assert.ok(reason instanceof HandshakeTimeout);
    assert.equal(ta.signal.aborted, false, 'an authenticated connection has no deadline');
    await new Promise<void>((r) => b.server.once('close', () => r()));
    assert.equal(limiter.connections, 2);

    a.client.destroy();
    await new Promise<void>((r) => a.server.once('close', () => r()));
    assert.equal(limiter.connections, 1);
    assert.equal(limiter.unauthenticatedFrom('127.0.0.1'), 1);
    for (const p of [c, d]) p.client.destroy();
    await new Promise<void>((r) => (c.server.destroyed ? r() : c.server.once('close', () => r())));
    assert.equal(limiter.connections, 0);
    assert.equal(limiter.unauthenticatedFrom('127.0.0.1'), 0);
  });

  it('sources: IPv4-mapped addresses fold to IPv4, IPv6 counts per /64', () => {
    assert.equal(sourceKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(sourceKey('192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
    assert.equal(sourceKey(undefined), 'unknown');
  });

  it('upstream slots: a max, idempotent release', () => {
    const slots = new UpstreamSlots();
    const r1 = slots.reserve('shop', 2);
    const r2 = slots.reserve('shop', 2);
    assert.ok(r1 && r2);
    assert.equal(slots.reserve('shop', 2), null);
    assert.ok(slots.reserve('other', 1));
    r1();
    r1();
    assert.equal(slots.count('shop'), 1);
    assert.ok(slots.reserve('shop', 2));
    assert.ok(slots.reserve('nolimit', undefined));
  });
});

/**
 * A target that authenticates anyone and reports standard_conforming_strings=off (or drops it),
 * whatever the startup options say: what a proxy or pooler in front of PostgreSQL might do.
 */
function hostileTarget(
  report: Record<string, string>,
): Promise<{ server: Server; port: number; startups: Record<string, string>[] }> {
  const startups: Record<string, string>[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {});
    const reader = new MessageReader({ startup: true });
    socket.on('data', (chunk) => {
      try {
        reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      while (reader.next()) {
        if (!reader.startup) continue; // Terminate and the like: nothing to answer
        const p = parseStartupPacket(reader.buffer, reader.start, reader.length);
        if (p.kind !== 'startup') continue;
        startups.push(p.params);
        const w = new MessageWriter(256);
        writeAuthenticationOk(w);
        for (const [k, v] of Object.entries(report)) writeParameterStatus(w, k, v);
        writeBackendKeyData(w, 1, 2);
        writeReadyForQuery(w, 'I');
        socket.write(w.flush());
        reader.startup = false;
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port, startups }),
    ),
  );
}

describe('a target that ignores the pinned settings', () => {
  let off: Awaited<ReturnType<typeof hostileTarget>>;
  let gw: TestGateway;
  before(async () => {
    off = await hostileTarget({ client_encoding: 'UTF8', standard_conforming_strings: 'off', server_version: '15.0' });
    const fake = { host: '127.0.0.1', port: off.port, user: 'app', password: 'x', database: 'shop' } as TestPostgres;
    gw = await startTestGateway(fake);
  });
  after(async () => {
    await gw?.stop();
    off?.server.close();
  });

  it('the session is refused with a clear FATAL and ended', async () => {
    const client = new pg.Client({ connectionString: gw.url(await gw.token('agent-off', ['agents'])) });
    client.on('error', () => {});
    await assert.rejects(client.connect(), (e: { code?: string; message?: string; severity?: string }) => {
      assert.equal(e.code, '0A000');
      assert.equal(e.severity, 'FATAL');
      assert.match(
        e.message ?? '',
        /target reports standard_conforming_strings="off"; Warden requires standard_conforming_strings=on/,
      );
      return true;
    });
    // It was asked for the pinned settings, and the refusal ended the gateway session.
    assert.equal(off.startups.at(-1)?.options, PINNED_OPTIONS);
    assert.equal(off.startups.at(-1)?.client_encoding, 'UTF8');
    const deadline = Date.now() + 5000;
    while (gw.running.gateway.sessions.size > 0 && Date.now() < deadline) await ms(20);
    assert.equal(gw.running.gateway.sessions.size, 0);
  });
});
