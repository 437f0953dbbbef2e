// The narrow view of the core an engine receives (src/protocols/engine.ts): nothing of the
// Gateway beyond opening sessions, connection configs, token checks, logs, clock and TLS.
import type { SecureContextOptions } from 'node:tls';
import type { Gateway } from '../gateway/gateway.js';
import type { EngineHost } from '../protocols/engine.js';

export function engineHost(gw: Gateway, tls: SecureContextOptions | null): EngineHost {
  return {
    connection: (name) => gw.connectionConfig(name),
    openSession: (req) => gw.openSession(req),
    authenticate: (token) => gw.authenticate(token),
    logger: gw.logger,
    clock: gw.clock,
    tls,
    dataDir: gw.config.dataDir,
  };
}
