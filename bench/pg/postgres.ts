// The bench's PostgreSQL: a private cluster (test/helpers' startCluster) with room for the
// idle-sessions measurement (1,000 sessions through the gateway hold 1,000 target backends), a
// non-superuser role and its database, as the tests' startPostgres() makes them.
import { randomBytes } from 'node:crypto';
import { runSql, startCluster } from '../../test/helpers/postgres.js';
import type { Endpoint } from './endpoint.js';

export interface BenchPostgres {
  direct: Endpoint;
  stop(): Promise<void>;
}

export async function startBenchPostgres(opts: {
  database: string;
  user: string;
  maxConnections: number;
}): Promise<BenchPostgres> {
  const cluster = await startCluster({ maxConnections: opts.maxConnections });
  try {
    const password = randomBytes(12).toString('hex');
    const superUrl = `postgres://postgres:${encodeURIComponent(cluster.superPassword)}@127.0.0.1:${cluster.port}/postgres`;
    // Names are the bench's own constants (identifiers), the password is hex: no quoting needed.
    await runSql(superUrl, `CREATE ROLE ${opts.user} LOGIN PASSWORD '${password}'`);
    await runSql(superUrl, `CREATE DATABASE ${opts.database} OWNER ${opts.user}`);
    return {
      direct: { name: 'direct', port: cluster.port, user: opts.user, database: opts.database, password },
      stop: cluster.stop,
    };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}
