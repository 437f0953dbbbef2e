// `tsx bench/pg/perf.ts [simple|prepared] [clients] [seconds] [DIR]` — where the gateway's CPU
// per statement goes, kernel included: perf(1) samples the gateway child (V8's --perf-prof names
// its JIT code) during one pgbench -S run, and the samples are summed by kind and by owning
// module (see perf-samples.ts), each as a share and as µs of the gateway's CPU per statement.
// A --cpu-prof profile (profile.ts) sees JavaScript only, counts a socket write's kernel time as
// its caller's and inflates small functions; this view does neither. Needs `perf` (Debian:
// linux-perf) and permission to profile (root, or kernel.perf_event_paranoid ≤ 1).
//
// With `--path`, scheduler events are recorded too and the event loop's samples are split by
// where they fall in their run slice (perf-samples.ts, slicePhases): before the slice's first
// wake-up of PostgreSQL or pgbench (on the statement's path: what delays the answer at low
// concurrency), after it (overlapped with the other processes' work), or in a slice that woke
// neither; each part gets its own tables.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startGatewayChild } from './gateway.js';
import {
  functionOf,
  kindOf,
  mainThread,
  ownerOf,
  parsePerfScript,
  type Sample,
  shares,
  slicePhases,
} from './perf-samples.js';
import { type PgbenchRun, pgbenchInit, pgbenchSelect } from './pgbench.js';
import { startBenchPostgres } from './postgres.js';

const onPath = process.argv.includes('--path');
const [mode = 'simple', clients = '8', seconds = '8', dir = '/tmp/warden-perf'] = process.argv
  .slice(2)
  .filter((a) => a !== '--path');
if (mode !== 'simple' && mode !== 'prepared') throw new Error('mode: simple or prepared');
if (spawnSync('perf', ['--version']).status !== 0) {
  console.error('perf is missing; install it with: apt-get install -y linux-perf');
  process.exit(1);
}
await rm(dir, { recursive: true, force: true });
await mkdir(dir, { recursive: true });

const pg = await startBenchPostgres({ database: 'shop', user: 'app', maxConnections: 100 });
let measured: PgbenchRun | undefined;
try {
  await pgbenchInit(pg.direct, 1);
  const gw = await startGatewayChild(pg.direct, { connection: 'shop', perfProfDir: dir });
  try {
    // Warm-up, the same workload: V8 optimizes the hot paths first (a short c=1 warm-up leaves
    // the compiler busy through the next c=8 run).
    await pgbenchSelect(gw.endpoint, mode, 1, 1);
    await pgbenchSelect(gw.endpoint, mode, Number(clients), 5);
    const events = onPath ? ['-e', 'cpu-clock', '-e', 'sched:sched_waking', '-e', 'sched:sched_switch'] : [];
    const rec = spawn(
      'perf',
      ['record', ...events, '-F', '2999', '-g', '-k', 'mono', '-o', 'perf.data', '-p', String(gw.pid)],
      {
        cwd: dir,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    measured = await pgbenchSelect(gw.endpoint, mode, Number(clients), Number(seconds));
    rec.kill('SIGINT');
    await new Promise((r) => rec.once('close', r));
  } finally {
    await gw.stop();
  }
} finally {
  await pg.stop();
}

const run = measured!;
// The JIT dump becomes jitted-*.so files next to perf.data, named by function.
const step = (args: string[]) => {
  const r = spawnSync('perf', args, { cwd: dir, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`perf ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
};
step(['inject', '--jit', '-i', 'perf.data', '-o', 'perf.jit.data']);
const fields = onPath ? 'tid,time,event,trace,ip,sym' : 'tid,ip,sym';
const records: Sample[] = parsePerfScript(step(['script', '-i', 'perf.jit.data', '-F', fields]));
const samples = records.filter((s) => !s.event?.startsWith('sched:'));
await rm(join(dir, 'perf.data'), { force: true });
const main = mainThread(samples);

const statements = run.tps * Number(seconds);
const usPerTx = run.usPerTx ?? Number.NaN;
console.log(
  `pgbench -S ${mode} c=${clients}: ${Math.round(run.tps)} TPS; gateway ${usPerTx.toFixed(0)} µs of CPU per statement (all threads); ${samples.length} samples, ${((100 * samples.filter((s) => s.tid === main).length) / samples.length).toFixed(0)}% on the event loop`,
);
/** Rows of (key, share of the table's samples); `usPerShare`: µs per statement of a share of 1. */
const table = (title: string, rows: [string, number][], usPerShare = usPerTx) => {
  console.log(`\n${title}`.padEnd(44) + 'share   µs/statement');
  for (const [k, share] of rows.filter(([, v]) => v >= 0.003))
    console.log(
      `  ${k.padEnd(40)} ${(100 * share).toFixed(1).padStart(5)}%   ${(share * usPerShare).toFixed(1).padStart(6)}`,
    );
};
table(
  'by kind',
  shares(samples, (s) => kindOf(s, main)),
);
table(
  'by owner (nearest JavaScript frame)',
  shares(samples, (s) => ownerOf(s, main)),
);
table('by function (nearest JavaScript frame), top 30', shares(samples, (s) => functionOf(s, main)).slice(0, 30));
if (onPath) {
  const phases = slicePhases(records, main, (trace) => /\bcomm=(?:postgres|pgbench)\b/.test(trace));
  const loopSamples = phases.before.length + phases.after.length + phases.unwoken.length;
  const loopUs = run.loopUsPerTx ?? Number.NaN;
  const us = (n: number) => ((n / loopSamples) * loopUs).toFixed(1);
  console.log(
    `\nevent loop per statement: ${loopUs.toFixed(0)} µs: ${us(phases.before.length)} before a wake-up of PostgreSQL or pgbench in the same run slice (on the path), ${us(phases.after.length)} after it, ${us(phases.unwoken.length)} in slices that woke neither`,
  );
  const phaseTable = (title: string, phase: Sample[], keyOf: (s: Sample) => string, top: number) =>
    table(title, shares(phase, keyOf).slice(0, top), (phase.length / loopSamples) * loopUs);
  phaseTable('on the path, by kind', phases.before, (s) => kindOf(s, main), 20);
  phaseTable('on the path, by function, top 25', phases.before, (s) => functionOf(s, main), 25);
  phaseTable('after the wake-up, by function, top 15', phases.after, (s) => functionOf(s, main), 15);
  phaseTable('in slices that woke neither, by function, top 15', phases.unwoken, (s) => functionOf(s, main), 15);
}
console.log(`\n${Math.round(statements)} statements; perf data in ${dir}/perf.jit.data (perf report -i …)`);
