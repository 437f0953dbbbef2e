// pgbench -S (select-only) against one endpoint; TPS and average latency from its summary.
import { type Endpoint, libpqArgs, libpqEnv } from './endpoint.js';
import { mustExec } from './exec.js';
import { cpuSeconds, mainThreadCpuSeconds } from './proc.js';

export interface PgbenchRun {
  endpoint: string;
  mode: 'simple' | 'prepared';
  clients: number;
  tps: number;
  latencyMs: number;
  failed: boolean;
  /** CPU share (1 = one core) of the endpoint's process during the run, when it has one. */
  cpu?: number;
  /** The same for the process's main thread (a Node process: the event loop). */
  loopCpu?: number;
  /** CPU µs of the endpoint's process (all threads / main thread) per transaction. */
  usPerTx?: number;
  loopUsPerTx?: number;
  error?: string;
}

export const PGBENCH = '/usr/bin/pgbench';

export async function pgbenchInit(e: Endpoint, scale: number): Promise<void> {
  await mustExec(PGBENCH, ['-i', '-s', String(scale), '-q', ...libpqArgs(e), e.database], {
    env: libpqEnv(e),
    timeoutMs: 300_000,
  });
}

export async function pgbenchSelect(
  e: Endpoint,
  mode: 'simple' | 'prepared',
  clients: number,
  seconds: number,
): Promise<PgbenchRun> {
  const args = [
    '-S',
    '-n',
    '-M',
    mode,
    '-c',
    String(clients),
    '-j',
    String(Math.min(2, clients)),
    '-T',
    String(seconds),
    ...libpqArgs(e),
    e.database,
  ];
  const measured = e.pids ?? (e.pid ? [e.pid] : []);
  const cpu = () => measured.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const loop = () => measured.reduce((sum, pid) => sum + mainThreadCpuSeconds(pid), 0);
  const cpu0 = cpu();
  const loop0 = loop();
  const started = performance.now();
  const base = { endpoint: e.name, mode, clients };
  try {
    const r = await mustExec(PGBENCH, args, { env: libpqEnv(e), timeoutMs: (seconds + 60) * 1000 });
    const wall = (performance.now() - started) / 1000;
    const tps = Number(/^tps = ([\d.]+)/m.exec(r.stdout)?.[1]);
    const latencyMs = Number(/^latency average = ([\d.]+) ms/m.exec(r.stdout)?.[1]);
    const failedTx = Number(/number of failed transactions: (\d+)/.exec(r.stdout)?.[1] ?? 0);
    const txs = Number(/number of transactions actually processed: (\d+)/.exec(r.stdout)?.[1]);
    const cpuUsed = cpu() - cpu0;
    const loopUsed = loop() - loop0;
    return {
      ...base,
      tps,
      latencyMs,
      failed: !Number.isFinite(tps) || failedTx > 0,
      ...(measured.length > 0
        ? {
            cpu: cpuUsed / wall,
            loopCpu: loopUsed / wall,
            usPerTx: (cpuUsed * 1e6) / txs,
            loopUsPerTx: (loopUsed * 1e6) / txs,
          }
        : {}),
    };
  } catch (err) {
    return {
      ...base,
      tps: Number.NaN,
      latencyMs: Number.NaN,
      failed: true,
      error: (err as Error).message.split('\n')[0],
    };
  }
}
