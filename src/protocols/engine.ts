// The contract every protocol adapter implements (Teleport's Engine idea): listen, read the
// handshake, speak errors natively, serve the session. An adapter receives the core (Gateway)
// and imports nothing from another adapter.
import type { SecureContextOptions } from 'node:tls';
import type { Gateway } from '../gateway/gateway.js';
import type { ConnectionLimiter } from './limits.js';

export interface ProtocolServer {
  /** Port actually bound (useful with port 0 in tests). */
  port: number;
  close(): Promise<void>;
}

export interface EngineContext {
  /** TLS material for front doors that upgrade (Postgres SSLRequest, MySQL, HTTPS). */
  tls: SecureContextOptions | null;
  /**
   * Accept-side limits (connection caps, handshake deadline), shared by every front door of the
   * gateway. Omitted: the engine uses `limiterFor(gw, gw.config.limits)`, the same shared one.
   */
  limits?: ConnectionLimiter;
}

export interface ProtocolEngine {
  name: 'postgres' | 'mysql' | 'ssh' | 'http';
  listen(gw: Gateway, host: string, port: number, ctx: EngineContext): Promise<ProtocolServer>;
}
