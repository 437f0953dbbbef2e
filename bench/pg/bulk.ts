// The bulk result: one SELECT of N rows with masked columns (email, phone by column rule; every
// text column through the content detectors), read by psql into /dev/null.
import { type Endpoint, libpqArgs, libpqEnv } from './endpoint.js';
import { mustExec } from './exec.js';
import { cpuSeconds } from './proc.js';

export const BULK_TABLE = 'bench_customers';
const PSQL = '/usr/bin/psql';

export interface BulkRun {
  endpoint: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  mbPerSecond: number;
  /** CPU seconds the endpoint's process (a gateway) used during the read. */
  cpuSeconds?: number;
}

function psqlArgs(e: Endpoint, sql: string): string[] {
  return ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', ...libpqArgs(e), '-d', e.database, '-c', sql];
}

/** Creates the table and returns its text payload size in bytes (what the client receives). */
export async function createBulkTable(direct: Endpoint, rows: number): Promise<number> {
  const sql = `
DROP TABLE IF EXISTS ${BULK_TABLE};
CREATE TABLE ${BULK_TABLE} AS
SELECT g AS id,
       'Customer ' || g AS name,
       'user' || g || '@example.com' AS email,
       '+1 415 555 ' || lpad((g % 10000)::text, 4, '0') AS phone,
       'ordered ' || (g % 17) || ' items, last on ' || (date '2024-01-01' + (g % 365)) AS note,
       (g % 1000) * 1.5 AS balance,
       now() AS created_at
FROM generate_series(1, ${rows}) g;
ANALYZE ${BULK_TABLE};`;
  await mustExec(PSQL, psqlArgs(direct, sql), { env: libpqEnv(direct), timeoutMs: 300_000 });
  const r = await mustExec(PSQL, psqlArgs(direct, `SELECT sum(octet_length(b::text)) FROM ${BULK_TABLE} b`), {
    env: libpqEnv(direct),
  });
  return Number(r.stdout.trim());
}

export async function readBulk(e: Endpoint, rows: number, bytes: number): Promise<BulkRun> {
  const cpuBefore = e.pid ? cpuSeconds(e.pid) : 0;
  const r = await mustExec(PSQL, ['-o', '/dev/null', ...psqlArgs(e, `SELECT * FROM ${BULK_TABLE}`)], {
    env: libpqEnv(e),
    timeoutMs: 600_000,
  });
  const seconds = r.ms / 1000;
  return {
    endpoint: e.name,
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    ...(e.pid ? { cpuSeconds: cpuSeconds(e.pid) - cpuBefore } : {}),
  };
}

/** One masked value as the client sees it (proves masking was on for the bulk read). */
export async function sampleEmail(e: Endpoint): Promise<string> {
  const r = await mustExec(PSQL, psqlArgs(e, `SELECT email FROM ${BULK_TABLE} WHERE id = 1`), { env: libpqEnv(e) });
  return r.stdout.trim();
}
