// The narrow view of the core an engine receives (src/protocols/engine.ts): nothing of the
// Gateway beyond opening sessions, connection configs, token checks, logs, clock and TLS.
import type { SecureContextOptions } from 'node:tls';
import { WardenError } from '../core/errors.js';
import type { Gateway } from '../gateway/gateway.js';
import type { EngineHost, PeerBus } from '../protocols/engine.js';

export function engineHost(gw: Gateway, tls: SecureContextOptions | null, peers: PeerBus | null = null): EngineHost {
  return {
    connection: (name) => gw.connectionConfig(name),
    openSession: (req) => gw.openSession(req),
    authenticate: (token) => gw.authenticate(token),
    checkIdentity: (identity) => {
      const problem = gw.identityProblem(identity);
      if (problem)
        throw new WardenError(
          problem.code === 'identity-revoked' ? 'WARDEN_TOKEN_REVOKED' : 'WARDEN_TOKEN_EXPIRED',
          problem.message,
        );
    },
    logger: gw.logger,
    clock: gw.clock,
    tls,
    dataDir: gw.config.dataDir,
    peers,
  };
}
