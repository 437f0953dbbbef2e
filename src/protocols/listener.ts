// The accept side every front door shares: bind, admit each socket under the gateway's
// connection limits (global cap, unauthenticated-per-source cap, handshake deadline), track it,
// hand it to the engine, and on close stop accepting, let the engine end its sessions with a
// reason, then cut what is left. Engines never see a net.Server.
import { createServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { EngineInstance, ProtocolServer } from './engine.js';
import { type ConnectionLimiter, closeWith } from './limits.js';

export interface ListenOptions {
  /** Front door name, for logs. */
  name: string;
  host: string;
  port: number;
  limiter: ConnectionLimiter;
  logger: Logger;
}

/** Connection-cap refusals are logged at most this often, with a count: a flood must not flood the log. */
const REFUSAL_LOG_MS = 10_000;

export async function listenFor(engine: EngineInstance, opts: ListenOptions): Promise<ProtocolServer> {
  const sockets = new Set<Socket>();
  let refusedSinceLog = 0;
  let lastRefusalLog = 0;
  const logRefusal = (reason: string, address: string | undefined) => {
    refusedSinceLog++;
    const now = Date.now();
    if (now - lastRefusalLog < REFUSAL_LOG_MS) return;
    opts.logger.warn(
      { frontDoor: opts.name, reason, client: address ?? null, refused: refusedSinceLog },
      'connections refused: too many connections',
    );
    refusedSinceLog = 0;
    lastRefusalLog = now;
  };

  const server = createServer((socket) => {
    socket.on('error', () => {});
    const admission = opts.limiter.admit(socket);
    if (!admission.ok) {
      // Refused at once, before reading anything, in the engine's own protocol.
      logRefusal(admission.reason, socket.remoteAddress);
      closeWith(socket, engine.refusal(admission.message));
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.pause();
    engine.serve(socket, admission).catch((err: unknown) => {
      opts.logger.warn({ err, frontDoor: opts.name }, 'session failed');
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => opts.logger.error({ err, frontDoor: opts.name }, 'listener error'));
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as { port: number }).port,
    close() {
      closing ??= (async () => {
        // server.close() waits for every open connection: stop accepting, end the sessions, then wait.
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await engine.close('gateway shutting down').catch(() => {});
        for (const s of sockets) s.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}
