// MCP sessions: one StreamableHTTP transport + McpServer per `mcp-session-id`, bound to the
// principal (issuer, sub) that opened it. Every call brings its own token, and SQL runs on a
// front-door client opened with THAT token: the gateway session it is recorded and audited in,
// and the groups it decides with, are the call's. A call with another token (other groups, a
// refreshed token) gets a new client; the previous one is closed once its calls finish.
import { createHash, randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { type Principal, principalOf, samePrincipal } from '../../core/principal.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import { connectFrontDoor, type FrontDoorClient } from '../sql/front-door.js';

/** A session nobody used for this long is closed (its gateway sessions end). */
const IDLE_MS = 30 * 60_000;

/** One front-door client, authenticated with one token (so: one identity). */
interface DoorClient {
  /** sha256 of the token it authenticated with. */
  key: string;
  pending: Promise<FrontDoorClient>;
  inUse: number;
  retired: boolean;
}

export class McpSession {
  id: string | undefined;
  /** Who opened it; only the same principal may use it. */
  readonly principal: Principal;
  /** Current client per connection. */
  private readonly clients = new Map<string, DoorClient>();
  /** Replaced clients that still run a call. */
  private readonly retiring = new Set<DoorClient>();
  private idle: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly gw: Gateway,
    readonly transport: StreamableHTTPServerTransport,
    readonly server: McpServer,
    identity: Identity,
    private readonly onIdle: (s: McpSession) => void,
  ) {
    this.principal = principalOf(identity);
    this.touch();
  }

  /** Whether this (already verified) identity may use the session. */
  belongsTo(identity: Identity): boolean {
    return samePrincipal(this.principal, identity);
  }

  /** A request of the session's principal arrived: restart the idle timer. */
  touch(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.onIdle(this), IDLE_MS);
    this.idle.unref();
  }

  /**
   * Run `fn` on a client for `connection` authenticated with this call's token. The caller has
   * verified the token and checked `belongsTo(identity)`.
   */
  async withClient<T>(
    connection: string,
    identity: Identity,
    token: string,
    fn: (client: FrontDoorClient) => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw new Error('MCP session closed');
    if (!this.belongsTo(identity)) throw new Error('identity of another principal');
    // clientFor counts the use in the same turn it picks the client, so it cannot be retired in between.
    const dc = await this.clientFor(connection, identity, token);
    try {
      return await fn(await dc.pending);
    } finally {
      dc.inUse--;
      if (dc.retired && dc.inUse === 0) this.end(dc);
    }
  }

  private async clientFor(connection: string, identity: Identity, token: string): Promise<DoorClient> {
    const key = createHash('sha256').update(token).digest('hex');
    for (;;) {
      const current = this.clients.get(connection);
      if (!current) break;
      if (current.key !== key) {
        this.retire(connection, current);
        break;
      }
      const client = await current.pending.catch(() => null);
      if (current.retired) continue;
      if (client && !isEnded(client)) {
        current.inUse++;
        return current;
      }
      // Died (or failed to open): drop it and open a new one, unless another call already did.
      if (this.clients.get(connection) === current) this.retire(connection, current);
    }
    const dc: DoorClient = { key, pending: null as unknown as Promise<FrontDoorClient>, inUse: 1, retired: false };
    dc.pending = connectFrontDoor(this.gw, identity, connection, 'mcp').then((door) => {
      door.client.once('end', () => {
        if (this.clients.get(connection) === dc) this.clients.delete(connection);
      });
      if (this.closed) void door.end();
      return door;
    });
    // A failed open is reported to the call that caused it; the next call tries again.
    dc.pending.catch(() => {
      if (this.clients.get(connection) === dc) this.clients.delete(connection);
    });
    this.clients.set(connection, dc);
    return dc;
  }

  private retire(connection: string, dc: DoorClient): void {
    if (this.clients.get(connection) === dc) this.clients.delete(connection);
    dc.retired = true;
    if (dc.inUse === 0) this.end(dc);
    else this.retiring.add(dc);
  }

  private end(dc: DoorClient): void {
    this.retiring.delete(dc);
    void dc.pending.then(
      (c) => c.end(),
      () => {},
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.idle) clearTimeout(this.idle);
    const all = [...this.clients.values(), ...this.retiring];
    this.clients.clear();
    this.retiring.clear();
    for (const dc of all) {
      const client = await dc.pending.catch(() => null);
      await client?.end();
    }
    await this.server.close().catch(() => {});
  }
}

function isEnded(door: FrontDoorClient): boolean {
  const c = door.client as unknown as { _ending?: boolean; _ended?: boolean; _queryable?: boolean };
  return c._ending === true || c._ended === true || c._queryable === false;
}

export class McpSessions {
  private readonly byId = new Map<string, McpSession>();

  constructor(
    private readonly gw: Gateway,
    private readonly buildServer: () => McpServer,
  ) {}

  get(id: string): McpSession | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** A new session for an `initialize` request; registered once the transport assigns its id. */
  async open(identity: Identity): Promise<McpSession> {
    let session: McpSession | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        if (!session) return;
        session.id = id;
        this.byId.set(id, session);
      },
      onsessionclosed: (id) => void this.end(id),
    });
    const server = this.buildServer();
    session = new McpSession(this.gw, transport, server, identity, (idle) => void this.end(idle.id, idle));
    const s = session;
    transport.onclose = () => void this.end(s.id, s);
    await server.connect(transport);
    return session;
  }

  async end(id: string | undefined, session = id ? this.byId.get(id) : undefined): Promise<void> {
    if (id) this.byId.delete(id);
    await session?.close();
  }

  async closeAll(): Promise<void> {
    const all = [...this.byId.values()];
    this.byId.clear();
    for (const s of all) await s.close();
  }
}
