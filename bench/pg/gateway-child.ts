// The gateway under benchmark, in its own process so its CPU time and peak RSS are measured apart
// from pgbench and the bench driver. Started by bench/pg/gateway.ts with a JSON spec in
// WARDEN_BENCH_SPEC; prints one JSON line {pgPort, token} when ready; on "stop" from stdin (or
// stdin closing) it closes the gateway, prints {auditEntries, recordings} and exits.
// It runs transpiled to plain JavaScript (bench/pg/compile.ts), so it imports nothing from test/:
// the policy comes in the spec. With `workers` > 1 it is the primary of a `warden start
// --workers` group (src/server/workers.ts) and prints the workers' pids too.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { sql } from 'kysely';
import { parseConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/gateway/index.js';
import { DevIssuer } from '../../src/identity/index.js';
import { startGateway } from '../../src/server/index.js';
import { joinWorkerGroup, reportReady, runWorkers } from '../../src/server/workers.js';

export interface GatewayChildSpec {
  dir: string;
  target: { port: number; database: string; user: string; password: string };
  connection: string;
  /** The `access`/`rules`/`masking` part of warden.yaml. */
  policy: string;
  /** More than 1: `warden start --workers` as a group (this process the primary, forking workers). */
  workers?: number;
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
let closeGateway: () => Promise<void>;
const { config } = parseConfig(yaml, {
  baseDir: spec.dir,
  env: { ...process.env, BENCH_TARGET_PASSWORD: spec.target.password },
});
const worker = joinWorkerGroup(config);
if ((spec.workers ?? 1) > 1 && !worker) {
  // The primary: supervises the workers (workers.ts), mints the token with the shared dev issuer.
  const group = await runWorkers({
    count: spec.workers!,
    listen: config.listen,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const issuer = await DevIssuer.load(config.dataDir, `${group.ready.apiUrl}/dev`);
  const token = await issuer.mint({ sub: 'bench-agent', groups: ['agents'], ttlMs: 60 * 60_000 });
  process.stdout.write(`${JSON.stringify({ pgPort: group.ready.ports.postgres, token, pids: group.pids() })}\n`);
  closeGateway = () => group.stop();
} else {
  const running = await startGateway(config, {
    logger: createLogger({ level: process.env.WARDEN_BENCH_LOG ?? 'silent' }),
    ...(worker ? { worker } : {}),
  });
  closeGateway = () => running.close();
  // As `warden start` does; a `--compare` revision older than the module simply keeps it held.
  await import('../../src/core/young-generation.js').then(
    (m) => m.releaseYoungGeneration(),
    () => undefined,
  );
  if (worker) {
    reportReady({ ports: running.ports, apiUrl: running.apiUrl });
    process.once('SIGTERM', () => void running.close().finally(() => process.exit(0)));
  } else {
    const token = await running.devIssuer!.mint({ sub: 'bench-agent', groups: ['agents'], ttlMs: 60 * 60_000 });
    process.stdout.write(`${JSON.stringify({ pgPort: running.ports.postgres, token })}\n`);
  }
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await closeGateway();
  // Count what the data path wrote, to show audit and recording were on during the run.
  const { openStore } = await import('../../src/store/index.js');
  const store = await openStore(config.store);
  const row = await sql<{ n: number }>`select count(*) as n from audit_log`.execute(store.db);
  await store.close();
  const recordings = (await readdir(config.recordings)).length;
  process.stdout.write(`${JSON.stringify({ auditEntries: Number(row.rows[0]?.n ?? 0), recordings })}\n`);
  process.exit(0);
}
if (!worker) {
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    // "mem": one JSON line of process.memoryUsage() (to tell V8 heap from native memory).
    // With --expose-gc (WARDEN_BENCH_GATEWAY_NODE_ARGS): after a full GC, i.e. what is retained.
    if (d.includes('mem')) {
      (globalThis as { gc?: () => void }).gc?.();
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size]));
      process.stdout.write(`${JSON.stringify({ ...process.memoryUsage(), spaces })}\n`);
    }
    if (d.includes('stop')) void stop();
  });
  process.stdin.on('end', () => void stop());
}
