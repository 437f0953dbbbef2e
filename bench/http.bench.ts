// HTTP benchmark (`npm run bench`): GET of a small JSON response direct, through a bare undici
// relay and through Warden (policy, masking, recording, audit on), same run, same load generator
// (undici, keep-alive, fixed concurrency); requests/s, p50/p99 latency, Warden vs relay ratio
// (goal ≥ 0.8×) and the p99 Warden adds, and the CPU time per request of the relay's and the
// gateway's process (utime+stime from /proc, measured over the load phase: on a shared machine
// req/s swing with the other load, CPU per request much less). Then a 200 MB JSON array streamed through Warden with
// masking, with the gateway process's peak RSS (goal < 200 MB). The targets run in a child
// process (bench/http-targets.ts), so the load generator does not share their event loop.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { compileBenchChild } from './pg/compile.js';

const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.HTTP_BENCH_CONCURRENCY ?? 16);
const WARMUP_SECONDS = Number(process.env.HTTP_BENCH_WARMUP ?? 1);
/** HTTP_BENCH_ROUNDS=N: the three loads N times against the same processes. */
const ROUNDS = Number(process.env.HTTP_BENCH_ROUNDS ?? 1);
/**
 * HTTP_BENCH_COMPARE=REV: a second gateway built from that revision's sources runs next to this
 * checkout's, loaded right after it in every round: on a shared machine only such same-run,
 * interleaved figures tell a change from the other load.
 */
const COMPARE = process.env.HTTP_BENCH_COMPARE;

/** CPU time (user + system) a process used so far, in µs (/proc/<pid>/stat, clock ticks). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at state (field 3).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime (14), stime (15)
  return (ticks / CLOCK_TICKS) * 1e6;
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** `pid`: the process serving `port`, whose CPU time per request is measured over the load phase. */
async function load(port: number, path: string, headers: Record<string, string>, pid: number) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const run = (seconds: number, record: boolean) => {
    const deadline = performance.now() + seconds * 1000;
    return Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          try {
            const r = await pool.request({ path, method: 'GET', headers });
            await r.body.text();
            if (r.statusCode !== 200 && record) errors++;
          } catch {
            if (record) errors++;
          }
          if (record) latencies.push(performance.now() - t);
        }
      }),
    );
  };
  // Warm-up under the same load (the JIT settles; not measured).
  await run(WARMUP_SECONDS, false);
  const cpu0 = cpuMicros(pid);
  await run(SECONDS, true);
  const cpuPerRequest = (cpuMicros(pid) - cpu0) / latencies.length;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { rps: latencies.length / SECONDS, p50: q(0.5), p99: q(0.99), errors, cpuPerRequest };
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  return hwm ? Number(hwm[1]) / 1024 : Number.NaN;
}

/**
 * The gateway runs as plain JavaScript, as `warden start` does from dist/: under the tsx loader it
 * would carry the transpiler and its source maps (~65 MB RSS at idle, measured), which is not what
 * a user runs. The upstream and the relay stay under tsx (their memory is not measured).
 */
function child(args: string[], compiledScript?: string) {
  const script = compiledScript
    ? [compiledScript]
    : ['--import', 'tsx', fileURLToPath(new URL('./http-targets.ts', import.meta.url))];
  // HTTP_BENCH_CPU_PROF=DIR: a CPU profile of the gateway process, written there at its exit.
  const prof = args[0] === 'gateway' && process.env.HTTP_BENCH_CPU_PROF;
  const nodeArgs = prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [];
  const proc = spawn(process.execPath, [...nodeArgs, ...script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`http-targets ${args.join(' ')} exited with ${code}`)));
  });
  return { proc, ready };
}

/** The bench child's .js path, built from revision `rev`'s sources (src/, bench/, test/helpers/). */
async function compileRevision(rev: string, into: string): Promise<string> {
  const tree = join(into, 'tree');
  const root = fileURLToPath(new URL('../', import.meta.url));
  execFileSync('mkdir', ['-p', tree]);
  execFileSync('sh', [
    '-c',
    `git -C '${root}' archive '${rev}' src bench test/helpers package.json | tar -x -C '${tree}'`,
  ]);
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'), 'dir');
  const compile = (await import(join(tree, 'bench/pg/compile.ts'))) as typeof import('./pg/compile.js');
  return compile.compileBenchChild(join(into, 'js'), 'bench/http-targets.ts');
}

async function main(): Promise<void> {
  const compiled = await mkdtemp(join(tmpdir(), 'warden-bench-http-js-'));
  // The relay and the gateway run as plain JavaScript alike (WARDEN_BENCH_TSX=1: both under tsx).
  const script =
    process.env.WARDEN_BENCH_TSX === '1' ? undefined : compileBenchChild(compiled, 'bench/http-targets.ts');
  const targets = child(['upstream']);
  const { upstream } = JSON.parse(await targets.ready) as { upstream: number };
  const relayChild = child(['relay', String(upstream)], script);
  const gateway = child(['gateway', String(upstream)], script);
  const { relay: relayPort } = JSON.parse(await relayChild.ready) as { relay: number };
  const { warden: wardenPort, token } = JSON.parse(await gateway.ready) as { warden: number; token: string };
  const kids = [targets.proc, relayChild.proc, gateway.proc];
  let other: { proc: ReturnType<typeof child>['proc']; port: number; token: string } | null = null;
  if (COMPARE) {
    const g = child(['gateway', String(upstream)], await compileRevision(COMPARE, join(compiled, 'compare')));
    const { warden: port, token: t } = JSON.parse(await g.ready) as { warden: number; token: string };
    other = { proc: g.proc, port, token: t };
    kids.push(g.proc);
  }
  const auth = { authorization: `Bearer ${token}` };
  try {
    console.log(`GET small JSON, ${CONCURRENCY} concurrent, ${SECONDS} s each (keep-alive)`);
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) console.log(`round ${round}/${ROUNDS}`);
      const direct = await load(upstream, '/customers', {}, targets.proc.pid!);
      const relay = await load(relayPort, '/customers', {}, relayChild.proc.pid!);
      const warden = await load(wardenPort, '/api/customers', auth, gateway.proc.pid!);
      const row = (name: string, r: Awaited<ReturnType<typeof load>>) =>
        `${name.padEnd(30)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${r.p50.toFixed(2).padStart(6)} ms   p99 ${r.p99.toFixed(2).padStart(6)} ms   CPU ${r.cpuPerRequest.toFixed(0).padStart(4)} µs/req   errors ${r.errors}`;
      console.log(row('direct', direct));
      console.log(row('bare undici relay', relay));
      console.log(row('Warden (policy+mask+rec+audit)', warden));
      const ratio = warden.rps / relay.rps;
      console.log(
        `Warden / relay: ${ratio.toFixed(2)}× req/s (goal ≥ 0.80×: ${ratio >= 0.8 ? 'met' : 'NOT met'}), ` +
          `${(warden.cpuPerRequest / relay.cpuPerRequest).toFixed(2)}× CPU per request; p99 added vs direct: ${(warden.p99 - direct.p99).toFixed(2)} ms`,
      );
      if (other) {
        const then = await load(
          other.port,
          '/api/customers',
          { authorization: `Bearer ${other.token}` },
          other.proc.pid!,
        );
        console.log(row(`Warden at ${COMPARE}`.slice(0, 30), then));
        console.log(
          `this checkout / ${COMPARE}: ${(warden.rps / then.rps).toFixed(2)}× req/s, ${(warden.cpuPerRequest / then.cpuPerRequest).toFixed(2)}× CPU per request`,
        );
      }
    }

    // HTTP_BENCH_STREAM=0: requests only (quick A/B runs).
    if (process.env.HTTP_BENCH_STREAM === '0') return;
    const rssBefore = peakRssMb(gateway.proc.pid!);
    const t = performance.now();
    const pool = new Pool(`http://127.0.0.1:${wardenPort}`);
    const r = await pool.request({ path: '/api/big', method: 'GET', headers: auth });
    let bytes = 0;
    let leaked = false;
    for await (const chunk of r.body) {
      bytes += (chunk as Buffer).length;
      if (!leaked && (chunk as Buffer).includes('ada@example.com')) leaked = true;
    }
    await pool.close();
    const secs = (performance.now() - t) / 1000;
    const rss = peakRssMb(gateway.proc.pid!);
    console.log(
      `200 MB JSON array through Warden, masked: ${(bytes / 1048576).toFixed(0)} MiB in ${secs.toFixed(1)} s (${(bytes / 1048576 / secs).toFixed(0)} MiB/s); ` +
        `gateway peak RSS ${rss.toFixed(0)} MB (before: ${rssBefore.toFixed(0)} MB; goal < 200 MB: ${rss < 200 ? 'met' : 'NOT met'}); clear email seen: ${leaked}`,
    );
  } finally {
    for (const k of kids) {
      k.stdin!.end();
      // A profiled gateway writes its profile when it exits on its own (stdin closed).
      if (!process.env.HTTP_BENCH_CPU_PROF) k.kill();
    }
    await rm(compiled, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
