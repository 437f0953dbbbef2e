// MCP sessions: one StreamableHTTP transport + McpServer per `mcp-session-id`, bound to the
// identity (sub) that opened it. Each session keeps one front-door client per connection, so an
// MCP session is one recorded gateway session per connection; all are closed with it.
import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type pg from 'pg';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import { connectFrontDoor } from '../sql/front-door.js';

/** A session nobody used for this long is closed (its gateway sessions end). */
const IDLE_MS = 30 * 60_000;

interface DoorClient {
  client: pg.Client;
  /** When the identity this client authenticated with expires. */
  expiresAt: number;
}

export class McpSession {
  id: string | undefined;
  identity: Identity;
  token: string;
  private readonly clients = new Map<string, Promise<DoorClient>>();
  private idle: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly gw: Gateway,
    readonly transport: StreamableHTTPServerTransport,
    readonly server: McpServer,
    identity: Identity,
    token: string,
    private readonly onIdle: (s: McpSession) => void,
  ) {
    this.identity = identity;
    this.token = token;
    this.touch(identity, token);
  }

  get sub(): string {
    return this.identity.sub;
  }

  /** A request arrived with a (possibly refreshed) token for the same subject. */
  touch(identity: Identity, token: string): void {
    this.identity = identity;
    this.token = token;
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.onIdle(this), IDLE_MS);
    this.idle.unref();
  }

  /** The session's client for `connection`, opened through the front door on first use. */
  async client(connection: string): Promise<pg.Client> {
    let pending = this.clients.get(connection);
    if (pending) {
      const dc = await pending.catch(() => null);
      // Reconnect when the client died, or its token lapsed and a newer one has arrived.
      const stale =
        !dc || isEnded(dc.client) || (dc.expiresAt <= this.gw.clock.now() && this.identity.expiresAt > dc.expiresAt);
      if (!stale) return dc.client;
      if (dc) await dc.client.end().catch(() => {});
      if (this.clients.get(connection) === pending) this.clients.delete(connection);
      pending = undefined;
    }
    const identity = this.identity;
    pending = connectFrontDoor(this.gw, identity, this.token, connection, 'warden-mcp').then((client) => {
      client.once('end', () => {
        if (this.clients.get(connection) === pending) this.clients.delete(connection);
      });
      return { client, expiresAt: identity.expiresAt };
    });
    this.clients.set(connection, pending);
    try {
      return (await pending).client;
    } catch (err) {
      if (this.clients.get(connection) === pending) this.clients.delete(connection);
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.idle) clearTimeout(this.idle);
    const pending = [...this.clients.values()];
    this.clients.clear();
    for (const p of pending) {
      const dc = await p.catch(() => null);
      await dc?.client.end().catch(() => {});
    }
    await this.server.close().catch(() => {});
  }
}

function isEnded(client: pg.Client): boolean {
  const c = client as unknown as { _ending?: boolean; _ended?: boolean; _queryable?: boolean };
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
  async open(identity: Identity, token: string): Promise<McpSession> {
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
    session = new McpSession(this.gw, transport, server, identity, token, (idle) => void this.end(idle.id, idle));
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
