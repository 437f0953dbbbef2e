// `npm run bench` — every Warden benchmark in one run, one readable report.
//
//   npm run bench                 micro-benchmarks, then the PostgreSQL benchmark (≈4–5 min)
//   npm run bench -- --quick      shorter: pgbench -T 3, 200k bulk rows (≈1–2 min)
//   npm run bench -- --pg-only    skip the micro-benchmarks
//   npm run bench -- --micro-only skip the PostgreSQL and SSH benchmarks
//   npm run bench -- --ssh-only   only the SSH benchmark (bench/ssh.bench.ts: sshd direct vs through Warden)
//   npm run bench -- --seconds 20 --rows 2000000   override pgbench -T and bulk rows
//   npm run bench -- --cpu-prof DIR               write a .cpuprofile of the gateway child to DIR
//   npm run bench -- --rounds 5                   the pgbench matrix 5 times, interleaved; medians
//   npm run bench -- --workers 3                  the `warden start --workers` column with 3 workers (default 2; 1: none)
//   npm run bench -- --compare HEAD~3             also a gateway built from that revision (or a directory
//                                                 holding a src/ tree), in the same run
//
// Micro-benchmarks (each its own process, output passed through): bench/decide.bench.ts
// (Policy.decide p50/p99 warm/cold; goal p99 ≤ 20 µs warm), bench/analysis.bench.ts,
// bench/masking.bench.ts, bench/audit.bench.ts (the audit append: event loop vs writer thread). PostgreSQL benchmark (bench/pg/): a real PostgreSQL 15 (needs
// /usr/lib/postgresql/15/bin, psql and pgbench), pgbouncer when installed (else the apt line
// is printed and its column skipped), and the gateway in a child process with a realistic
// policy (guardrail rules, masking, recording, audit); pgbench -S simple/prepared at c=1 and
// c=8 against direct / pgbouncer / Warden, then a bulk masked SELECT through Warden vs direct;
// then the gateway's memory table (bench/pg/memory.ts): RSS idle after start, with 1,000 idle
// sessions (per-session delta), after pgbench, peak during the bulk read. Numbers are reported, not asserted; on a 2-core machine the
// bench driver, pgbench, PostgreSQL and the gateway share the cores, as they would in practice.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runPostgresBench } from './pg/index.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'pg-only': { type: 'boolean', default: false },
    'micro-only': { type: 'boolean', default: false },
    'ssh-only': { type: 'boolean', default: false },
    seconds: { type: 'string' },
    rows: { type: 'string' },
    'cpu-prof': { type: 'string' },
    rounds: { type: 'string' },
    compare: { type: 'string' },
    workers: { type: 'string' },
  },
});

const MICRO = ['decide.bench.ts', 'analysis.bench.ts', 'masking.bench.ts', 'audit.bench.ts', 'http.bench.ts'];

function heading(title: string): void {
  console.log(`\n${'═'.repeat(100)}\n${title}\n${'═'.repeat(100)}`);
}

function runMicro(file: string, extraArgs: string[] = []): Promise<void> {
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
  heading(`bench/${file}`);
  if (!existsSync(path)) {
    console.log('(not present)');
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path, ...extraArgs], {
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => {
      if (code !== 0) console.log(`(failed, exit ${code}) ${stderr.trim().split('\n').slice(-5).join('\n')}`);
      resolve();
    });
  });
}

const started = Date.now();
console.log(
  `Warden benchmark — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'})${args.quick ? ', --quick' : ''}`,
);
const sshOnly = args['ssh-only'];
if (!args['pg-only'] && !sshOnly) for (const f of MICRO) await runMicro(f);
if (sshOnly || (!args['pg-only'] && !args['micro-only'])) await runMicro('ssh.bench.ts', args.quick ? ['--quick'] : []);
if (!args['micro-only'] && !sshOnly) {
  heading('PostgreSQL: pgbench -S and a bulk masked result (bench/pg/)');
  await runPostgresBench({
    seconds: Number(args.seconds ?? (args.quick ? 3 : 10)),
    bulkRows: Number(args.rows ?? (args.quick ? 200_000 : 1_000_000)),
    clients: [1, 8],
    rounds: Number(args.rounds ?? 1),
    workers: Number(args.workers ?? 2),
    ...(args.compare ? { compareRev: args.compare } : {}),
    ...(args['cpu-prof'] ? { cpuProfDir: args['cpu-prof'] } : {}),
  });
}
console.log(`\n(total ${((Date.now() - started) / 1000).toFixed(0)} s)`);
