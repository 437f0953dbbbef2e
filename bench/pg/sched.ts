// `tsx bench/pg/sched.ts [simple|prepared] [clients]` — where a statement's latency goes at low
// concurrency, scheduler included: for direct, pgbouncer, the bare relay and Warden in turn,
// pgbench -S runs while `perf sched record` traces one second of the whole machine, and the trace
// is read into the chain's hops (sched-hops.ts): each process's run time per statement, and each
// wake-up along the chain — how many cross to another CPU, and how long the wakee waited to run.
// On a VM whose idle vCPUs halt (haltpoll with guest_halt_poll_ns = 0, as here) a cross-CPU
// wake-up costs tens of µs; a same-CPU one almost nothing. Needs `perf` and root.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from './endpoint.js';
import { startGatewayChild } from './gateway.js';
import { type PgbenchRun, pgbenchInit, pgbenchSelect } from './pgbench.js';
import { startPgbouncer } from './pgbouncer.js';
import { startBenchPostgres } from './postgres.js';
import { startRelay } from './relay.js';
import { type ChainSched, chainSched, type Role } from './sched-hops.js';

const [mode = 'simple', clientsArg = '1'] = process.argv.slice(2);
if (mode !== 'simple' && mode !== 'prepared') throw new Error('mode: simple or prepared');
const clients = Number(clientsArg);
if (spawnSync('perf', ['--version']).status !== 0) {
  console.error('perf is missing; install it with: apt-get install -y linux-perf');
  process.exit(1);
}
const RUN_S = 4;
const dir = await mkdtemp(join(tmpdir(), 'warden-sched-'));

async function traced(e: Endpoint): Promise<{ run: PgbenchRun; sched: ChainSched }> {
  await pgbenchSelect(e, mode as 'simple', clients, 2);
  const data = join(dir, `${e.name}.data`);
  const running = pgbenchSelect(e, mode as 'simple', clients, RUN_S);
  await new Promise((r) => setTimeout(r, 1500));
  const rec = spawn('perf', ['sched', 'record', '-a', '-o', data, 'sleep', '1'], { stdio: 'ignore' });
  await new Promise((r) => rec.once('close', r));
  const run = await running;
  const out = spawnSync('perf', ['sched', 'timehist', '-w', '-i', data], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (out.status !== 0) throw new Error(`perf sched timehist failed: ${out.stderr}`);
  const proxy = e.pid;
  const roleOf = (t: { comm: string; tid: number }): Role | null =>
    t.comm === 'pgbench'
      ? 'client'
      : t.comm === 'postgres'
        ? 'server'
        : t.tid === proxy || t.comm === 'pgbouncer'
          ? 'proxy'
          : null;
  return { run, sched: chainSched(out.stdout, roleOf) };
}

const pg = await startBenchPostgres({ database: 'shop', user: 'app', maxConnections: 100 });
const rows: string[][] = [];
try {
  await pgbenchInit(pg.direct, 1);
  const bouncer = await startPgbouncer(pg.direct);
  const relay = await startRelay(pg.direct);
  const gw = await startGatewayChild(pg.direct, { connection: 'shop' });
  try {
    const endpoints: Endpoint[] = [pg.direct, ...(bouncer ? [bouncer.endpoint] : []), relay.endpoint, gw.endpoint];
    for (const e of endpoints) {
      const { run, sched } = await traced(e);
      const statements = run.tps * sched.seconds;
      const per = (ms: number) => ((ms * 1000) / statements).toFixed(0);
      const hops = sched.hops.filter((h) => h.hop.split('→')[0] !== h.hop.split('→')[1]);
      const wakes = hops.reduce((s, h) => s + h.count, 0);
      const cross = hops.reduce((s, h) => s + h.crossCpu, 0);
      const crossDelay = hops.reduce((s, h) => s + h.crossDelayMs, 0);
      const sameDelay = hops.reduce((s, h) => s + h.sameDelayMs, 0);
      rows.push([
        e.name,
        (run.latencyMs * 1000).toFixed(0),
        per(sched.runMs.client),
        e.pid ? per(sched.runMs.proxy) : '-',
        per(sched.runMs.server),
        (wakes / statements).toFixed(1),
        (cross / statements).toFixed(1),
        per(crossDelay + sameDelay),
        // A mean over a handful of wake-ups (under one in twenty statements) says nothing.
        cross > statements / 20 ? ((crossDelay * 1000) / cross).toFixed(0) : '-',
        wakes - cross > statements / 20 ? ((sameDelay * 1000) / (wakes - cross)).toFixed(0) : '-',
      ]);
    }
  } finally {
    await gw.stop();
    await relay.stop();
    await bouncer?.stop();
  }
} finally {
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}

const head = [
  'endpoint',
  'latency µs',
  'pgbench run',
  'proxy run',
  'postgres run',
  'wake-ups',
  'cross-CPU',
  'wake delay',
  'µs/cross',
  'µs/same',
];
console.log(
  `pgbench -S ${mode} c=${clients}, per statement: each process's run time (µs), the wake-ups along the chain and how many of them crossed to another CPU, the wakees' scheduling delay in all (µs), and the mean delay of a cross-CPU and of a same-CPU wake-up (µs)`,
);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
for (const r of [head, ...rows])
  console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
