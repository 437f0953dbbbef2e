// Fixed demo ports are checked before the slow start, so a taken port fails in a second with a
// clear message rather than after PGlite has started.
import { createServer } from 'node:net';
import { WardenError } from '../core/errors.js';
import { freePort } from '../gateway/index.js';

/** `port`, or a free one when it is 0. Throws WARDEN_USAGE (detail.which) when it is taken. */
export async function claimPort(host: string, port: number, which: 'api' | 'postgres'): Promise<number> {
  if (port === 0) return freePort(host);
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use' : `cannot be used (${err.code ?? err.message})`;
      reject(
        new WardenError('WARDEN_USAGE', `${which === 'api' ? 'API' : 'PostgreSQL'} port ${host}:${port} ${why}`, {
          detail: { which, port },
        }),
      );
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
  return port;
}
