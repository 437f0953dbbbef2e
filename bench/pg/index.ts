// The PostgreSQL benchmark: pgbench -S through direct / pgbouncer / Warden, then a bulk masked
// result through Warden vs direct. Prints its own report section; returns nothing to assert.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BULK_TABLE, type BulkRun, createBulkTable, readBulk, sampleEmail } from './bulk.js';
import type { Endpoint } from './endpoint.js';
import { startGatewayChild } from './gateway.js';
import { IDLE_SESSIONS, type IdleMemory, measureIdleMemory, memoryTable } from './memory.js';
import { type PgbenchRun, pgbenchInit, pgbenchSelect } from './pgbench.js';
import { PGBOUNCER_INSTALL, startPgbouncer } from './pgbouncer.js';
import { startBenchPostgres } from './postgres.js';
import { memoryMb, resetPeak } from './proc.js';
import { startRelay } from './relay.js';

export interface PgBenchOptions {
  seconds: number;
  bulkRows: number;
  clients: number[];
  /** The pgbench matrix is run this many times, endpoints interleaved; the table shows medians. */
  rounds?: number;
  /** A git revision: a second gateway built from that revision's src/, in the same run. */
  compareRev?: string;
  cpuProfDir?: string;
  /** More than 1: also a `warden start --workers` group of that many workers, in the same run. */
  workers?: number;
  log?: (line: string) => void;
}

const CONNECTION = 'shop';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function runPostgresBench(opts: PgBenchOptions): Promise<void> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const progress = (l: string) => process.stderr.write(`  … ${l}\n`);
  const rounds = Math.max(1, opts.rounds ?? 1);
  // Room for the idle sessions (each holds a target backend) next to pgbench, pgbouncer and the relay.
  const pg = await startBenchPostgres({ database: CONNECTION, user: 'app', maxConnections: IDLE_SESSIONS + 200 });
  const cleanups: (() => Promise<unknown>)[] = [() => pg.stop()];
  const cleanUp = async () => {
    for (const c of cleanups.splice(0)) await c().catch((e) => process.stderr.write(`cleanup: ${String(e)}\n`));
  };
  // Ctrl-C mid-run must not leave PostgreSQL, pgbouncer or the gateway behind.
  const onSignal = () => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const direct: Endpoint = pg.direct;
    progress('pgbench -i -s 1');
    await pgbenchInit(direct, 1);

    const bouncer = await startPgbouncer(direct);
    if (bouncer) cleanups.unshift(() => bouncer.stop());
    const relay = await startRelay(direct);
    cleanups.unshift(() => relay.stop());
    let base: Awaited<ReturnType<typeof startGatewayChild>> | undefined;
    if (opts.compareRev) {
      // A directory holding a src/ tree, or a git revision of this checkout.
      let srcRoot = opts.compareRev;
      if (!existsSync(join(srcRoot, 'src'))) {
        srcRoot = await mkdtemp(join(tmpdir(), 'warden-bench-base-'));
        const dir = srcRoot;
        cleanups.push(() => rm(dir, { recursive: true, force: true }));
        execSync(
          `git -C ${JSON.stringify(ROOT)} archive ${JSON.stringify(opts.compareRev)} src | tar -x -C ${JSON.stringify(dir)}`,
        );
      }
      base = await startGatewayChild(direct, { connection: CONNECTION, name: 'base', srcRoot });
      cleanups.unshift(() => base!.stop());
    }
    const workerCount = opts.workers ?? 1;
    let group: Awaited<ReturnType<typeof startGatewayChild>> | undefined;
    if (workerCount > 1) {
      SHORT.workers = `W×${workerCount}`;
      group = await startGatewayChild(direct, { connection: CONNECTION, name: 'workers', workers: workerCount });
      cleanups.unshift(() => group!.stop());
    }
    const gw = await startGatewayChild(direct, {
      connection: CONNECTION,
      ...(opts.cpuProfDir ? { cpuProfDir: opts.cpuProfDir } : {}),
    });
    let gwStats: Awaited<ReturnType<typeof gw.stop>> = null;
    let gwStopped = false;
    const stopGateway = async () => {
      if (gwStopped) return;
      gwStopped = true;
      gwStats = await gw.stop();
    };
    cleanups.unshift(stopGateway);
    // Before any traffic: the idle gateway, then with the idle sessions (closed again).
    progress(`gateway memory: idle, then ${IDLE_SESSIONS.toLocaleString('en')} idle sessions`);
    const idleMemory: IdleMemory = await measureIdleMemory(gw, gw.endpoint);
    const endpoints = [
      direct,
      ...(bouncer ? [bouncer.endpoint] : []),
      relay.endpoint,
      gw.endpoint,
      ...(group ? [group.endpoint] : []),
      ...(base ? [base.endpoint] : []),
    ];

    // Warm-up: connections, analysis cache, catalog lookups, and the JIT. Every workload once per
    // endpoint before the rounds: a gateway's first c=8 run after only a c=1 warm-up still has
    // V8 compiling its hot paths (one --trace-opt run: ~150 optimizations in it and 4.3k TPS,
    // against 14–38 and 5.1–5.3k TPS in each of the three runs after).
    const warmSeconds = Math.min(3, opts.seconds);
    for (const mode of ['simple', 'prepared'] as const)
      for (const c of opts.clients)
        for (const e of endpoints) {
          progress(`warm-up: pgbench -S -M ${mode} -c ${c} -T ${warmSeconds} → ${e.name}`);
          await pgbenchSelect(e, mode, c, warmSeconds);
        }

    const runs: PgbenchRun[][] = [];
    for (let round = 0; round < rounds; round++) {
      const these: PgbenchRun[] = [];
      for (const mode of ['simple', 'prepared'] as const) {
        for (const c of opts.clients) {
          for (const e of endpoints) {
            progress(`round ${round + 1}/${rounds}: pgbench -S -M ${mode} -c ${c} -T ${opts.seconds} → ${e.name}`);
            these.push(await pgbenchSelect(e, mode, c, opts.seconds));
          }
        }
      }
      runs.push(these);
    }
    if (group) await group.stop();
    const gwAfterPgbench = memoryMb(gw.pid);

    progress(`bulk table: ${opts.bulkRows.toLocaleString('en')} rows`);
    const bytes = await createBulkTable(direct, opts.bulkRows);
    const masked = await sampleEmail(gw.endpoint);
    const peakResettable = resetPeak(gw.pid);
    // Interleaved like the pgbench rounds (the machine's speed drifts); the base gateway too, so
    // `--compare` A/Bs the bulk path in the same run.
    const bulkEndpoints = [direct, gw.endpoint, ...(base ? [base.endpoint] : [])];
    const bulkRuns: BulkRun[][] = [];
    for (let round = 0; round < rounds; round++) {
      const these: BulkRun[] = [];
      for (const e of bulkEndpoints) {
        progress(`round ${round + 1}/${rounds}: bulk read → ${e.name}`);
        these.push(await readBulk(e, opts.bulkRows, bytes));
      }
      bulkRuns.push(these);
    }
    const gwMem = memoryMb(gw.pid);
    if (base) await base.stop();
    await stopGateway();

    log(
      `PostgreSQL 15, pgbench -S (scale 1), -T ${opts.seconds}, -j ≤2, ${endpointsLabel(endpoints)}${rounds > 1 ? `; ${rounds} interleaved rounds, medians` : ''}`,
    );
    log(
      `Warden: guardrail rules + masking (email, phone, ssn, card_number + detectors) + jsonl recording + SQLite audit`,
    );
    if (group)
      log(
        `W×${workerCount} = the same gateway as \`warden start --workers ${workerCount}\` (one store, one audit chain); its µs/st and loop µs/st add up its workers`,
      );
    if (base) log(`base = the same gateway built from ${opts.compareRev} (src/ only), in the same run`);
    if (!bouncer) log(`pgbouncer not installed — column skipped. Install with: ${PGBOUNCER_INSTALL}`);
    log('');
    log(
      pgbenchTable(
        runs,
        opts.clients,
        endpoints.map((e) => e.name),
      ),
    );
    log('');
    log(
      `Bulk: SELECT * FROM ${BULK_TABLE} (${opts.bulkRows.toLocaleString('en')} rows, ${(bytes / 1e6).toFixed(1)} MB text; email/phone masked, all text columns scanned) via psql → /dev/null`,
    );
    for (const e of bulkEndpoints) log(bulkLine(bulkRuns, e.name, opts.bulkRows));
    const bulkRatio = (a: string, b: string) =>
      median(bulkRuns.map((round) => bulkOf(round, b).seconds / bulkOf(round, a).seconds)).toFixed(2);
    log(
      `  ratio warden/direct  ${bulkRatio('warden', 'direct')}×   (goal ≥ 0.50×)${base ? `   warden/base ${bulkRatio('warden', 'base')}×` : ''}   sample email through Warden: ${masked}`,
    );
    const stats = gwStats as { auditEntries: number; recordings: number } | null;
    if (stats)
      log(
        `  gateway wrote ${stats.auditEntries.toLocaleString('en')} audit entries and ${stats.recordings} session recordings during the run`,
      );
    log('');
    log(
      memoryTable({
        idle: idleMemory,
        afterPgbenchRss: gwAfterPgbench.rss,
        bulkPeakRss: gwMem.peak,
        bulkPeakIsPhase: peakResettable,
        bulkRows: opts.bulkRows,
      }),
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
  }
}

function endpointsLabel(endpoints: Endpoint[]): string {
  return endpoints.map((e) => e.name).join(' vs ');
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || !Number.isFinite(n)
    ? '—'
    : n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const SHORT: Record<string, string> = {
  workers: 'W×N',
  pgbouncer: 'bouncer',
  direct: 'direct',
  relay: 'relay',
  warden: 'W',
  base: 'base',
};

/**
 * One row per mode and client count: each endpoint's median TPS, average latency and (for a
 * process of ours) CPU µs per statement — all threads / the main thread — then Warden's ratios.
 * A ratio is the median of the per-round ratios (each round runs the endpoints back to back).
 */
function pgbenchTable(rounds: PgbenchRun[][], clients: number[], names: string[]): string {
  const get = (round: PgbenchRun[], e: string, m: string, c: number) =>
    round.find((r) => r.endpoint === e && r.mode === m && r.clients === c);
  const med = (e: string, m: string, c: number, f: (r: PgbenchRun) => number | undefined) =>
    median(rounds.map((round) => f(get(round, e, m, c) ?? ({} as PgbenchRun)) ?? Number.NaN));
  const ratio = (a: string, b: string, m: string, c: number) =>
    median(rounds.map((round) => (get(round, a, m, c)?.tps ?? Number.NaN) / (get(round, b, m, c)?.tps ?? Number.NaN)));
  const processes = names.filter((n) => n !== 'direct');
  const loops = ['warden', 'workers', 'base'].filter((n) => names.includes(n));
  // The workers group against pgbouncer and against the single process.
  const groupRatios = names.includes('workers') ? ['pgbouncer', 'warden'].filter((n) => names.includes(n)) : [];
  const others = ['pgbouncer', 'relay', 'direct', 'base'].filter((n) => names.includes(n));
  const head = [
    'mode',
    'c',
    ...names.map((n) => `${SHORT[n] ?? n} tps`),
    ...names.map((n) => `${SHORT[n] ?? n} ms`),
    ...processes.map((n) => `${SHORT[n] ?? n} µs/st`),
    ...loops.map((n) => `${SHORT[n] ?? n} loop µs/st`),
    ...others.map((n) => `W/${SHORT[n] ?? n}`),
    ...groupRatios.map((n) => `${SHORT.workers}/${SHORT[n] ?? n}`),
  ];
  const rows: string[][] = [head];
  const errors: string[] = [];
  for (const m of ['simple', 'prepared']) {
    for (const c of clients) {
      for (const round of rounds)
        for (const r of round)
          if (r.mode === m && r.clients === c && r.error) errors.push(`  ${r.endpoint} ${m} c=${c}: ${r.error}`);
      rows.push([
        m,
        String(c),
        ...names.map((n) => fmt(med(n, m, c, (r) => r.tps))),
        ...names.map((n) =>
          fmt(
            med(n, m, c, (r) => r.latencyMs),
            3,
          ),
        ),
        ...processes.map((n) =>
          fmt(
            med(n, m, c, (r) => r.usPerTx),
            1,
          ),
        ),
        ...loops.map((n) =>
          fmt(
            med(n, m, c, (r) => r.loopUsPerTx),
            1,
          ),
        ),
        ...others.map((n) => `${fmt(ratio('warden', n, m, c), 2)}×`),
        ...groupRatios.map((n) => `${fmt(ratio('workers', n, m, c), 2)}×`),
      ]);
    }
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
  );
  lines.splice(1, 0, widths.map((w) => '─'.repeat(w)).join('  '));
  const added = (e: string, m: string) =>
    median(
      rounds.map(
        (round) =>
          ((get(round, e, m, 1)?.latencyMs ?? Number.NaN) - (get(round, 'direct', m, 1)?.latencyMs ?? Number.NaN)) *
          1000,
      ),
    );
  const addedLine = ['simple', 'prepared']
    .map((m) => `${m}: ${processes.map((n) => `${SHORT[n] ?? n} ${fmt(added(n, m))} µs`).join(', ')}`)
    .join('; ');
  const notes = [
    "ms = average latency; µs/st = CPU of that process (all threads) per statement; loop = the gateway's main thread (event loop) only.",
    ...(clients.includes(1) ? [`c=1 added latency over direct — ${addedLine}`] : []),
    "Goals: c=8 W ≥ 1.0× pgbouncer and ≥ 0.9× relay; c=1 added latency ≤ pgbouncer's.",
  ];
  return [...lines, ...notes, ...errors].join('\n');
}

function bulkOf(round: BulkRun[], endpoint: string): BulkRun {
  return round.find((r) => r.endpoint === endpoint)!;
}

/** An endpoint's median over the rounds: time, rows/s, MB/s and, for a gateway, its CPU per row. */
function bulkLine(rounds: BulkRun[][], endpoint: string, rows: number): string {
  const runs = rounds.map((round) => bulkOf(round, endpoint));
  const seconds = median(runs.map((r) => r.seconds));
  const mb = median(runs.map((r) => r.mbPerSecond));
  const cpu = median(runs.map((r) => r.cpuSeconds ?? Number.NaN));
  const cpuText = Number.isFinite(cpu) ? `  ${((cpu * 1e9) / rows).toFixed(0).padStart(5)} ns CPU/row` : '';
  return `  ${endpoint.padEnd(8)} ${seconds.toFixed(2).padStart(7)} s  ${fmt(rows / seconds).padStart(10)} rows/s  ${mb.toFixed(1).padStart(7)} MB/s${cpuText}`;
}
