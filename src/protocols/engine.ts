// The contract between the core and a protocol adapter (Teleport's Engine idea, narrower). The
// shared listener (./listener.ts) accepts, counts and times out connections and shuts them down;
// an engine reads its handshake, speaks errors natively and serves the session. An engine sees
// only the EngineHost: never the Gateway, another adapter, the API or the CLI.
import type { Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { ConnectionConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { Identity } from '../core/types.js';
import type { GatewaySession, OpenSessionRequest } from '../gateway/index.js';
import type { VerdictObserver } from '../gateway/verdict.js';
import type { Admission } from './limits.js';

/** A client connection: a TCP or TLS socket, or the server end of an in-memory stream. */
export type ClientStream = Duplex & { readonly remoteAddress?: string | undefined };

/** What the core offers an engine. */
export interface EngineHost {
  /** The named connection's config, or undefined for an unknown name. */
  connection(name: string): ConnectionConfig | undefined;
  /**
   * Authenticate (token, or an identity already verified by an in-process caller), route, check
   * access and limits; the session is recorded and audited. Throws a WardenError to refuse.
   */
  openSession(req: OpenSessionRequest): Promise<GatewaySession>;
  /** Verify a bearer token (signature, iss, aud, exp, nbf, revocation). */
  authenticate(token: string): Promise<Identity>;
  /**
   * Expiry and revocation of an identity the engine rebuilt itself (an SSH certificate carries
   * the one it was issued for), as for a token. Throws a WardenError to refuse.
   */
  checkIdentity(identity: Identity): void;
  readonly logger: Logger;
  readonly clock: Clock;
  /** TLS material for front doors that upgrade (Postgres SSLRequest, MySQL, HTTPS). */
  readonly tls: SecureContextOptions | null;
  /** The gateway's own state directory (keys it generates, such as an SSH host key). */
  readonly dataDir: string;
  /** The other worker processes of this gateway (`warden start --workers`); null in a single process. */
  readonly peers: PeerBus | null;
}

/**
 * Messages between one protocol's engines in the workers of one gateway, for what cannot go
 * through the store (a PostgreSQL CancelRequest landing on another worker than its session).
 */
export interface PeerBus {
  /** To the `protocol` engine of every other worker. */
  send(protocol: string, message: unknown): void;
  /** What the other workers' `protocol` engines send (one handler per protocol). */
  on(protocol: string, handler: (message: unknown) => void): void;
}

/** A session served over an in-memory stream for an identity the caller already verified. */
export interface InProcessRequest {
  identity: Identity;
  connection: string;
  /** The front door the caller is (REST `exec`, MCP tools, CLI through the API). */
  caller: 'api' | 'mcp';
  /** Receives each Verdict the session enforces, as data (REST and MCP report from it). */
  onVerdict: VerdictObserver;
  /** Why the session was not opened (a WardenError from the core), before the stream closes. */
  onRefused?: (err: unknown) => void;
}

/** One engine serving one gateway. */
export interface EngineInstance {
  /**
   * Serve one accepted client connection, already admitted by the shared listener: read the
   * handshake (calling `admission.handshakeDone()` / `authenticated()`), open the session, serve
   * it. Must not throw; the listener destroys the socket when the returned promise rejects.
   */
  serve(socket: ClientStream, admission: Admission): Promise<void>;
  /**
   * The protocol-native error for a client refused before anything was read (too many
   * connections), written before the socket is closed; null to just close.
   */
  refusal(message: string): Buffer | null;
  /** Serve a session over an in-memory stream (REST exec, MCP): returns the client's end. */
  inProcess?(req: InProcessRequest): Duplex;
  /** End every session with this reason and release what the engine holds (graceful shutdown). */
  close(reason: string): Promise<void>;
}

export interface ProtocolEngine {
  /** The protocol's registry name (./registry.ts). */
  readonly name: string;
  create(host: EngineHost): EngineInstance;
}

export interface ProtocolServer {
  /** Port actually bound (useful with port 0 in tests). */
  port: number;
  close(): Promise<void>;
}
