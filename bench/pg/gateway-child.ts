// The gateway under benchmark, in its own process so its CPU time and peak RSS are measured apart
// from pgbench and the bench driver. Started by bench/pg/gateway.ts with a JSON spec in
// WARDEN_BENCH_SPEC; prints one JSON line {pgPort, token} when ready; on "stop" from stdin (or
// stdin closing) it closes the gateway, prints {auditEntries, recordings} and exits.
// It runs transpiled to plain JavaScript (bench/pg/compile.ts), so it imports nothing from test/:
// the policy comes in the spec.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { parseConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/gateway/index.js';
import { startGateway } from '../../src/server/index.js';

export interface GatewayChildSpec {
  dir: string;
  target: { port: number; database: string; user: string; password: string };
  connection: string;
  /** The `access`/`rules`/`masking` part of warden.yaml. */
  policy: string;
}

const spec = JSON.parse(process.env.WARDEN_BENCH_SPEC ?? '') as GatewayChildSpec;
const yaml = `
listen:
  api: 127.0.0.1:0
  postgres: 127.0.0.1:0
store: sqlite:${join(spec.dir, 'warden.db')}
recordings: ${join(spec.dir, 'recordings')}
dataDir: ${join(spec.dir, 'data')}
admins: [admins]
identity:
  dev: true
# The idle-sessions measurement holds 1,000 sessions of the one bench identity.
limits:
  sessionsPerIdentity: 2000
connections:
  ${spec.connection}:
    type: postgres
    host: 127.0.0.1
    port: ${spec.target.port}
    database: ${spec.target.database}
    user: ${spec.target.user}
    password: \${env:BENCH_TARGET_PASSWORD}
    tls: disable
${spec.policy.replaceAll('[shop]', `[${spec.connection}]`)}
`;
const { config } = parseConfig(yaml, {
  baseDir: spec.dir,
  env: { ...process.env, BENCH_TARGET_PASSWORD: spec.target.password },
});
const running = await startGateway(config, {
  logger: createLogger({ level: process.env.WARDEN_BENCH_LOG ?? 'silent' }),
});
const token = await running.devIssuer!.mint({ sub: 'bench-agent', groups: ['agents'], ttlMs: 60 * 60_000 });
process.stdout.write(`${JSON.stringify({ pgPort: running.ports.postgres, token })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await running.close();
  // Count what the data path wrote, to show audit and recording were on during the run.
  const { openStore } = await import('../../src/store/index.js');
  const store = await openStore(config.store);
  const row = await sql<{ n: number }>`select count(*) as n from audit_log`.execute(store.db);
  await store.close();
  const recordings = (await readdir(config.recordings)).length;
  process.stdout.write(`${JSON.stringify({ auditEntries: Number(row.rows[0]?.n ?? 0), recordings })}\n`);
  process.exit(0);
}
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d: string) => {
  // "mem": one JSON line of process.memoryUsage() (to tell V8 heap from native memory).
  // With --expose-gc (WARDEN_BENCH_GATEWAY_NODE_ARGS): after a full GC, i.e. what is retained.
  if (d.includes('mem')) {
    (globalThis as { gc?: () => void }).gc?.();
    process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`);
  }
  if (d.includes('stop')) void stop();
});
process.stdin.on('end', () => void stop());
