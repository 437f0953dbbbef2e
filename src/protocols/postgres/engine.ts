// The PostgreSQL front door: accept (connection caps, handshake deadline), handshake (TLS, token
// as password), route by database name to a configured connection, open the upstream with the
// gateway's own credentials and pinned settings, then hand the two sockets to a PgProxy.
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { type Duplex, duplexPair } from 'node:stream';
import type { z } from 'zod';
import { isWardenError, WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { GatewaySession } from '../../gateway/index.js';
import type { ClientStream, EngineHost, EngineInstance, InProcessRequest, ProtocolEngine } from '../engine.js';
import { type Admission, closeWith, IN_PROCESS_ADMISSION } from '../limits.js';
import { ColumnSources } from './column-sources.js';
import type { postgresConnectionSchema } from './connection.js';
import { PINNED_OPTIONS, pinnedParametersProblem } from './pinned.js';
import { PgProxy } from './proxy.js';
import { fatal, HandshakeError, handshakeErrorFrom, readHandshake } from './startup.js';
import {
  CatalogLookup,
  closeUpstream,
  connectUpstream,
  isUpstreamError,
  sendCancel,
  simpleQuery,
  type UpstreamConnection,
  type UpstreamOptions,
  UpstreamSlots,
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
// client_encoding is not passed either: the gateway pins it (see ./pinned.ts).
const PASS_PARAMS = new Set(['application_name', 'datestyle', 'timezone', 'extra_float_digits', 'intervalstyle']);

/**
 * Upstream connection options: the client's harmless startup parameters, then the pinned ones
 * (UTF8, standard_conforming_strings, backslash_quote) and, when given, the database role the
 * session runs as (`-c role=…`: a RESET ROLE / RESET ALL / DISCARD ALL returns to it).
 */
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;

export function upstreamOptions(
  c: PostgresConnectionConfig,
  params: Record<string, string> = {},
  role?: string,
): UpstreamOptions {
  const pass: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (PASS_PARAMS.has(k.toLowerCase())) pass[k.toLowerCase()] = v;
  pass.client_encoding = 'UTF8';
  pass.options = role === undefined ? PINNED_OPTIONS : `${PINNED_OPTIONS} -c role=${escapeOption(role)}`;
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

/** What serve() knows beyond the socket: set for in-process sessions (identity already verified). */
interface InProcessSession {
  req: InProcessRequest;
}

class PostgresFrontDoor implements EngineInstance {
  private readonly proxies = new Map<string, PgProxy>();
  private readonly sources = new Map<string, ColumnSources>();
  /** Upstream connections held per target, for connections.<name>.maxUpstream. */
  private readonly slots = new UpstreamSlots();

  constructor(private readonly host: EngineHost) {
    // A CancelRequest another worker received for a session of this one.
    host.peers?.on('postgres', (m) => {
      const key = (m as { cancel?: unknown } | null)?.cancel;
      if (typeof key === 'string') void this.proxies.get(key)?.cancel();
    });
  }

  refusal(message: string): Buffer {
    // libpq reads a FATAL even in answer to its SSLRequest.
    return fatal('53300', message);
  }

  inProcess(req: InProcessRequest): Duplex {
    // Not half-open, like a TCP socket the door serves: the end of one direction ends the other.
    const [client, server] = duplexPair({ allowHalfOpen: false });
    // As when a TCP peer closes: once the client has read everything, its end closes too.
    server.once('close', () => (client.readableEnded ? client.destroy() : client.once('end', () => client.destroy())));
    this.serveStream(server, IN_PROCESS_ADMISSION, { req }).catch((err) => {
      this.host.logger.warn({ err }, 'in-process postgres session failed');
      server.destroy();
    });
    return client;
  }

  serve(socket: ClientStream, admission: Admission): Promise<void> {
    (socket as Partial<Socket>).setNoDelay?.(true);
    return this.serveStream(socket, admission, null);
  }

  private async serveStream(
    raw: ClientStream,
    admission: Admission,
    inProcess: InProcessSession | null,
  ): Promise<void> {
    let hs: Awaited<ReturnType<typeof readHandshake>>;
    try {
      hs = await readHandshake(raw, this.host, { signal: admission.signal, inProcess: inProcess !== null });
    } catch (err) {
      const e = handshakeErrorFrom(err);
      if (e.replyOn && !e.replyOn.destroyed) closeWith(e.replyOn, fatal(e.sqlstate, e.message));
      else raw.destroy();
      return;
    }
    if (admission.signal.aborted) {
      // Completed in the same turn the deadline passed: late is late.
      hs.kind === 'startup' ? hs.socket.destroy() : raw.destroy();
      return;
    }
    admission.handshakeDone();
    if (hs.kind === 'cancel') {
      raw.end();
      if (!inProcess) {
        const key = `${hs.pid}:${hs.secret}`;
        const proxy = this.proxies.get(key);
        // Not a session of this process: with workers, it may be another worker's.
        if (proxy) await proxy.cancel();
        else this.host.peers?.send('postgres', { cancel: key });
      }
      return;
    }
    const client = hs.socket;
    const name = inProcess ? inProcess.req.connection : (hs.params.database ?? hs.params.user ?? '');
    let session: GatewaySession;
    let releaseSlot: (() => void) | undefined;
    try {
      const conn = this.host.connection(name);
      if (conn && conn.type !== 'postgres')
        throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `connection '${name}' is not a PostgreSQL target`);
      const max = conn?.maxUpstream;
      const common = {
        connection: name,
        clientAddress: raw.remoteAddress ?? '',
        // Reserved last, so a refusal for any other reason holds no slot.
        admit: () => {
          releaseSlot = this.reserveUpstream(name, max);
        },
      };
      if (inProcess) hs.params.application_name = `warden-${inProcess.req.caller}`;
      session = await this.host.openSession(
        inProcess
          ? {
              ...common,
              protocol: inProcess.req.caller,
              identity: inProcess.req.identity,
              onVerdict: inProcess.req.onVerdict,
            }
          : { ...common, protocol: 'postgres', token: hs.token },
      );
    } catch (err) {
      releaseSlot?.();
      inProcess?.req.onRefused?.(err);
      if (isWardenError(err, 'WARDEN_TOO_MANY_CONNECTIONS')) {
        this.host.logger.warn(
          { connection: name, client: raw.remoteAddress ?? null, reason: err.message },
          'postgres session refused',
        );
        closeWith(client, fatal('53300', err.message));
        return;
      }
      const message = err instanceof WardenError ? err.message : 'authentication failed';
      closeWith(client, fatal('28000', message));
      return;
    }
    admission.authenticated();
    const release = releaseSlot ?? (() => {});
    const connConfig = session.connectionConfig;
    if (connConfig.type !== 'postgres') throw new Error('unreachable: a non-postgres session on the postgres door');
    const role = roleFor(session.identity, connConfig.roles);
    let upstream: UpstreamConnection;
    try {
      upstream = await connectUpstream(upstreamOptions(connConfig, hs.params, role));
    } catch (err) {
      release();
      if (
        isUpstreamError(err, 'server-error') &&
        role !== undefined &&
        (err.sqlstate === '42501' || err.sqlstate === '22023')
      ) {
        // Not a member of the role (42501) or no such role (22023, invalid value for "role").
        closeWith(
          client,
          fatal(
            '42501',
            `cannot run as database role '${role}' on target '${name}': ${err.notice?.message ?? err.message}`,
          ),
        );
        await session.close('database role refused');
        return;
      }
      const detail = isUpstreamError(err) ? err.message : 'connection failed';
      closeWith(client, fatal('08006', `target '${name}' is unavailable: ${detail}`));
      await session.close('target unavailable');
      return;
    }
    // Every way the upstream connection ends (client gone, target gone, errors) closes its socket.
    upstream.socket.once('close', release);
    if (upstream.socket.destroyed) release();

    const refusal = await this.sessionProblem(upstream, role).catch(
      (err: unknown) => `the session could not be checked: ${String((err as Error)?.message ?? err)}`,
    );
    if (refusal) {
      closeUpstream(upstream);
      upstream.socket.destroySoon();
      this.host.logger.warn({ connection: name, session: session.id, reason: refusal }, 'postgres session refused');
      closeWith(client, fatal('0A000', refusal));
      await session.close(`refused: ${refusal}`);
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

  /** A slot under the target's maxUpstream (a release function), or a refusal. */
  private reserveUpstream(name: string, max: number | undefined): () => void {
    const release = this.slots.reserve(name, max);
    if (!release) {
      throw new WardenError(
        'WARDEN_TOO_MANY_CONNECTIONS',
        `too many connections for target '${name}': the gateway holds ${max} (connections.${name}.maxUpstream)`,
      );
    }
    return release;
  }

  /** Why the freshly connected upstream session must not be handed over, or null. */
  private async sessionProblem(upstream: UpstreamConnection, role: string | undefined): Promise<string | null> {
    const pinned = pinnedParametersProblem(upstream.parameters);
    if (pinned) return pinned;
    if (role === undefined) return null;
    // `role` is not reported by the server (no ParameterStatus): ask.
    const r = await simpleQuery(upstream, 'SELECT current_user');
    const current = r.rows[0]?.[0];
    return current === role
      ? null
      : `the target runs this session as ${JSON.stringify(current)}, not as the configured role ${JSON.stringify(role)}`;
  }

  private sourcesFor(name: string, c: PostgresConnectionConfig): ColumnSources {
    let s = this.sources.get(name);
    if (!s) {
      s = new ColumnSources(new CatalogLookup(upstreamOptions(c, { application_name: 'warden-catalog' })), (err) =>
        this.host.logger.warn({ err, connection: name }, 'column source lookup failed; masking those columns'),
      );
      this.sources.set(name, s);
    }
    return s;
  }

  async close(reason: string): Promise<void> {
    for (const p of [...this.proxies.values()]) p.shutdown(reason);
    for (const s of this.sources.values()) await s.close().catch(() => {});
  }
}

export const postgresEngine: ProtocolEngine = {
  name: 'postgres',
  create: (host) => new PostgresFrontDoor(host),
};

/**
 * The database role for this identity (`connections.<name>.roles`): the first of the identity's
 * groups, in the order the token lists them, that has a mapping. Undefined: no role change.
 */
export function roleFor(
  identity: Pick<Identity, 'groups'>,
  roles: Record<string, string> | undefined,
): string | undefined {
  if (!roles) return undefined;
  for (const g of identity.groups) if (Object.hasOwn(roles, g)) return roles[g];
  return undefined;
}

/** A value inside the startup `options` string: whitespace separates, `\\` escapes the next character. */
export function escapeOption(value: string): string {
  return value.replace(/[\\\s]/g, (c) => `\\${c}`);
}

export { HandshakeError };
