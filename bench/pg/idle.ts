// Idle sessions: N clients that connect through an endpoint (startup, authentication with the
// token, the target's ReadyForQuery) and then send nothing, as a pool of idle psql sessions
// would. Used to measure what an idle session costs the gateway (RSS before vs with them).
import pg from 'pg';
import type { Endpoint } from './endpoint.js';

export interface IdleSessions {
  count: number;
  close(): Promise<void>;
}

/** Opens `n` sessions, `parallel` at a time (the gateway caps unauthenticated connections per source). */
export async function openIdleSessions(e: Endpoint, n: number, parallel = 32): Promise<IdleSessions> {
  const clients: pg.Client[] = [];
  const closeAll = () => Promise.allSettled(clients.map((c) => c.end())).then(() => undefined);
  try {
    for (let i = 0; i < n; i += parallel) {
      const batch = Array.from({ length: Math.min(parallel, n - i) }, () => {
        const c = new pg.Client({
          host: '127.0.0.1',
          port: e.port,
          user: e.user,
          database: e.database,
          password: e.password,
          ssl: false,
          application_name: 'warden-bench-idle',
        });
        clients.push(c);
        return c.connect();
      });
      await Promise.all(batch);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return { count: clients.length, close: closeAll };
}
