// Starts bench/pg/gateway-child.ts as a child process, transpiled to plain JavaScript like
// `warden` from dist/ (see compile.ts; WARDEN_BENCH_TSX=1 runs it under tsx instead), optionally
// with --cpu-prof, or with V8's perf(1) support (--perf-prof, for bench/pg/perf.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TEST_POLICY } from '../../test/helpers/gateway.js';
import { compileGatewayChild } from './compile.js';
import type { Endpoint } from './endpoint.js';
import type { GatewayChildSpec } from './gateway-child.js';

const CHILD = fileURLToPath(new URL('./gateway-child.ts', import.meta.url));

export interface RunningGatewayChild {
  endpoint: Endpoint;
  pid: number;
  /** The child's process.memoryUsage() (V8 heap vs native memory), asked over its stdin. */
  memoryUsage(): Promise<NodeJS.MemoryUsage>;
  /** Stops the gateway; returns what it wrote (audit entries, recording files). */
  stop(): Promise<{ auditEntries: number; recordings: number } | null>;
}

export async function startGatewayChild(
  target: Endpoint,
  opts: {
    connection: string;
    cpuProfDir?: string;
    /** Run with --perf-prof in this folder (V8 writes its jit-<pid>.dump to the working directory). */
    perfProfDir?: string;
    name?: string;
    srcRoot?: string;
    workers?: number;
  },
): Promise<RunningGatewayChild> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-gw-'));
  const spec: GatewayChildSpec = {
    dir,
    connection: opts.connection,
    target: { port: target.port, database: target.database, user: target.user, password: target.password },
    policy: TEST_POLICY,
    ...(opts.workers && opts.workers > 1 ? { workers: opts.workers } : {}),
  };
  const fromSource = process.env.WARDEN_BENCH_TSX === '1';
  const childPath = fromSource && !opts.srcRoot ? CHILD : compileGatewayChild(join(dir, 'js'), opts.srcRoot);
  const nodeArgs = fromSource && !opts.srcRoot ? ['--import', 'tsx'] : [];
  // As bin/warden.js does for `warden start` (src/core/young-generation.ts); set at run time, as
  // bin does: the same flag on node's command line has no effect (measured).
  nodeArgs.push(
    '--import',
    'data:text/javascript,import { setFlagsFromString } from "node:v8"; setFlagsFromString("--semi-space-growth-factor=1");',
  );
  if (opts.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir);
  if (opts.perfProfDir) nodeArgs.push('--perf-prof', '--interpreted-frames-native-stack');
  // Experiments with the gateway's V8 settings (e.g. --max-semi-space-size=4, --expose-gc); the
  // `--compare` gateway takes WARDEN_BENCH_BASE_NODE_ARGS when set, so `--compare HEAD` A/Bs a flag.
  const baseArgs = opts.name === 'base' ? process.env.WARDEN_BENCH_BASE_NODE_ARGS : undefined;
  nodeArgs.push(...(baseArgs ?? process.env.WARDEN_BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean));
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, childPath], {
    env: { ...process.env, WARDEN_BENCH_SPEC: JSON.stringify(spec) },
    stdio: ['pipe', 'pipe', 'inherit'],
    ...(opts.perfProfDir ? { cwd: opts.perfProfDir } : {}),
  });
  const lines = createInterface({ input: child.stdout! });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`gateway child exited (${code})`));
      child.once('exit', onExit);
      lines.once('line', (l) => {
        child.off('exit', onExit);
        resolve(l);
      });
    });
  const ready = JSON.parse(await next()) as { pgPort: number; token: string; pids?: number[] };
  return {
    pid: child.pid!,
    endpoint: {
      name: opts.name ?? 'warden',
      port: ready.pgPort,
      user: 'bench-agent',
      database: opts.connection,
      password: ready.token,
      pid: child.pid!,
      // A workers group: its CPU is the workers'.
      ...(ready.pids ? { pids: ready.pids } : {}),
    },
    async memoryUsage() {
      const line = next();
      child.stdin!.write('mem\n');
      return JSON.parse(await line) as NodeJS.MemoryUsage;
    },
    async stop() {
      let stats: { auditEntries: number; recordings: number } | null = null;
      if (child.exitCode === null) {
        const line = next().catch(() => null);
        child.stdin!.end('stop\n');
        const l = await Promise.race([line, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
        if (l) stats = JSON.parse(l);
        if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      }
      await rm(dir, { recursive: true, force: true });
      return stats;
    },
  };
}
