// The PostgreSQL front door: accept, handshake (TLS, token as password), route by database name
// to a configured connection, open the upstream with the gateway's own credentials, then hand
// the two sockets to a PgProxy.
import { randomInt } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { ConnectionConfig } from '../../config/schema.js';
import { WardenError } from '../../core/errors.js';
import type { Gateway, GatewaySession } from '../../gateway/index.js';
import type { EngineContext, ProtocolEngine, ProtocolServer } from '../engine.js';
import { ColumnSources } from './column-sources.js';
import { PgProxy } from './proxy.js';
import { fatal, HandshakeError, handshakeErrorFrom, readHandshake } from './startup.js';
import {
  CatalogLookup,
  connectUpstream,
  isUpstreamError,
  sendCancel,
  type UpstreamConnection,
  type UpstreamOptions,
} from './upstream/index.js';
import {
  MessageWriter,
  writeAuthenticationOk,
  writeBackendKeyData,
  writeParameterStatus,
  writeReadyForQuery,
} from './wire/index.js';

// Startup parameters a client may pass through to the target. Anything else (notably `options`,
// which can carry `-c role=…`) is dropped: the session's settings go through the policy.
const PASS_PARAMS = new Set([
  'application_name',
  'client_encoding',
  'datestyle',
  'timezone',
  'extra_float_digits',
  'intervalstyle',
]);

export function upstreamOptions(c: ConnectionConfig, params: Record<string, string> = {}): UpstreamOptions {
  const pass: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (PASS_PARAMS.has(k.toLowerCase())) pass[k] = v;
  return {
    host: c.host ?? '127.0.0.1',
    port: c.port ?? 5432,
    database: c.database ?? 'postgres',
    user: c.user ?? 'postgres',
    password: c.password ?? '',
    tls: c.tls ?? 'prefer',
    ...(c.caCert ? { caCert: c.caCert } : {}),
    params: pass,
  };
}

class PostgresFrontDoor {
  private readonly proxies = new Map<string, PgProxy>();
  private readonly sources = new Map<string, ColumnSources>();
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly gw: Gateway,
    private readonly ctx: EngineContext,
  ) {}

  handle(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    socket.pause();
    this.serve(socket).catch((err) => {
      this.gw.logger.warn({ err: String(err) }, 'postgres session failed');
      socket.destroy();
    });
  }

  private async serve(raw: Socket): Promise<void> {
    let hs: Awaited<ReturnType<typeof readHandshake>>;
    try {
      hs = await readHandshake(raw, this.ctx);
    } catch (err) {
      const e = handshakeErrorFrom(err);
      if (!raw.destroyed) raw.end(fatal(e.sqlstate, e.message));
      return;
    }
    if (hs.kind === 'cancel') {
      raw.end();
      await this.proxies.get(`${hs.pid}:${hs.secret}`)?.cancel();
      return;
    }
    const client = hs.socket;
    const name = hs.params.database ?? hs.params.user ?? '';
    let session: GatewaySession;
    try {
      const conn = this.gw.connectionConfig(name);
      if (conn && conn.type !== 'postgres')
        throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `connection '${name}' is not a PostgreSQL target`);
      // REST exec and MCP query connect here too, tagged with the gateway's in-process secret.
      const internal = this.gw.internalCaller(hs.params.application_name);
      if (internal) hs.params.application_name = `warden-${internal}`;
      session = await this.gw.openSession({
        protocol: internal ?? 'postgres',
        connection: name,
        token: hs.token,
        clientAddress: raw.remoteAddress ?? '',
      });
    } catch (err) {
      const message = err instanceof WardenError ? err.message : 'authentication failed';
      client.end(fatal('28000', message));
      return;
    }

    const connConfig = session.connectionConfig;
    let upstream: UpstreamConnection;
    try {
      upstream = await connectUpstream(upstreamOptions(connConfig, hs.params));
    } catch (err) {
      const detail = isUpstreamError(err) ? err.message : 'connection failed';
      client.end(fatal('08006', `target '${name}' is unavailable: ${detail}`));
      await session.close('target unavailable');
      return;
    }
    if (client.destroyed) {
      upstream.socket.destroy();
      await session.close('client disconnected');
      return;
    }

    // The client gets its own backend key; the real one never leaves the gateway.
    const pid = randomInt(1, 2 ** 31 - 1);
    const secret = randomInt(1, 2 ** 31 - 1);
    const w = new MessageWriter(1024);
    writeAuthenticationOk(w);
    for (const [k, v] of upstream.parameters) writeParameterStatus(w, k, v);
    writeBackendKeyData(w, pid, secret);
    writeReadyForQuery(w, 'I');
    client.write(w.flush());

    const key = `${pid}:${secret}`;
    const target = upstreamOptions(connConfig);
    const proxy = new PgProxy(
      client,
      hs.reader,
      {
        socket: upstream.socket,
        reader: upstream.reader,
        cancel: () => sendCancel(target.host, target.port, upstream.backendKey.pid, upstream.backendKey.secret),
        realPid: upstream.backendKey.pid,
        clientPid: pid,
      },
      session,
      this.sourcesFor(name, connConfig),
      () => this.proxies.delete(key),
    );
    this.proxies.set(key, proxy);
    proxy.start();
  }

  private sourcesFor(name: string, c: ConnectionConfig): ColumnSources {
    let s = this.sources.get(name);
    if (!s) {
      s = new ColumnSources(new CatalogLookup(upstreamOptions(c, { application_name: 'warden-catalog' })), (err) =>
        this.gw.logger.warn(
          { err: String(err), connection: name },
          'column source lookup failed; masking those columns',
        ),
      );
      this.sources.set(name, s);
    }
    return s;
  }

  async close(): Promise<void> {
    for (const p of [...this.proxies.values()]) p.shutdown('gateway shutting down');
    for (const s of this.sockets) s.destroy();
    for (const s of this.sources.values()) await s.close().catch(() => {});
  }
}

export const postgresEngine: ProtocolEngine = {
  name: 'postgres',
  async listen(gw: Gateway, host: string, port: number, ctx: EngineContext): Promise<ProtocolServer> {
    const door = new PostgresFrontDoor(gw, ctx);
    const server: Server = createServer((socket) => door.handle(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return {
      port: (server.address() as { port: number }).port,
      async close() {
        // server.close() waits for every open connection: stop listening, end the sessions, then wait.
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await door.close();
        await stopped;
      },
    };
  },
};

export { HandshakeError };
