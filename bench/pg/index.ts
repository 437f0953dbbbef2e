// The PostgreSQL benchmark: pgbench -S through direct / pgbouncer / Warden, then a bulk masked
// result through Warden vs direct. Prints its own report section; returns nothing to assert.
import { startPostgres } from '../../test/helpers/postgres.js';
import { BULK_TABLE, type BulkRun, createBulkTable, readBulk, sampleEmail } from './bulk.js';
import type { Endpoint } from './endpoint.js';
import { startGatewayChild } from './gateway.js';
import { type PgbenchRun, pgbenchInit, pgbenchSelect } from './pgbench.js';
import { PGBOUNCER_INSTALL, startPgbouncer } from './pgbouncer.js';
import { memoryMb, resetPeak } from './proc.js';

export interface PgBenchOptions {
  seconds: number;
  bulkRows: number;
  clients: number[];
  cpuProfDir?: string;
  log?: (line: string) => void;
}

const CONNECTION = 'shop';

export async function runPostgresBench(opts: PgBenchOptions): Promise<void> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const progress = (l: string) => process.stderr.write(`  … ${l}\n`);
  const pg = await startPostgres({ database: CONNECTION, user: 'app' });
  const cleanups: (() => Promise<unknown>)[] = [() => pg.stop()];
  const cleanUp = async () => {
    for (const c of cleanups.splice(0)) await c().catch((e) => process.stderr.write(`cleanup: ${String(e)}\n`));
  };
  // Ctrl-C mid-run must not leave PostgreSQL, pgbouncer or the gateway behind.
  const onSignal = () => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const direct: Endpoint = {
      name: 'direct',
      port: pg.port,
      user: pg.user,
      database: pg.database,
      password: pg.password,
    };
    progress('pgbench -i -s 1');
    await pgbenchInit(direct, 1);

    const bouncer = await startPgbouncer(direct);
    if (bouncer) cleanups.unshift(() => bouncer.stop());
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
    const endpoints = [direct, ...(bouncer ? [bouncer.endpoint] : []), gw.endpoint];

    // Warm-up: connections, analysis cache, catalog lookups.
    for (const e of endpoints) await pgbenchSelect(e, 'simple', 1, 1);

    const runs: PgbenchRun[] = [];
    for (const mode of ['simple', 'prepared'] as const) {
      for (const c of opts.clients) {
        for (const e of endpoints) {
          progress(`pgbench -S -M ${mode} -c ${c} -T ${opts.seconds} → ${e.name}`);
          runs.push(await pgbenchSelect(e, mode, c, opts.seconds));
        }
      }
    }
    const gwAfterPgbench = memoryMb(gw.pid);

    progress(`bulk table: ${opts.bulkRows.toLocaleString('en')} rows`);
    const bytes = await createBulkTable(direct, opts.bulkRows);
    const masked = await sampleEmail(gw.endpoint);
    const peakResettable = resetPeak(gw.pid);
    progress('bulk read → direct');
    const bulkDirect = await readBulk(direct, opts.bulkRows, bytes);
    progress('bulk read → warden');
    const bulkWarden = await readBulk(gw.endpoint, opts.bulkRows, bytes);
    const gwMem = memoryMb(gw.pid);
    await stopGateway();

    log(`PostgreSQL 15, pgbench -S (scale 1), -T ${opts.seconds}, -j ≤2, ${endpointsLabel(endpoints)}`);
    log(
      `Warden: guardrail rules + masking (email, phone, ssn, card_number + detectors) + jsonl recording + SQLite audit`,
    );
    if (!bouncer) log(`pgbouncer not installed — column skipped. Install with: ${PGBOUNCER_INSTALL}`);
    log('');
    log(pgbenchTable(runs, opts.clients, !!bouncer));
    log('');
    log(
      `Bulk: SELECT * FROM ${BULK_TABLE} (${opts.bulkRows.toLocaleString('en')} rows, ${(bytes / 1e6).toFixed(1)} MB text; email/phone masked, all text columns scanned) via psql → /dev/null`,
    );
    log(bulkLine(bulkDirect));
    log(bulkLine(bulkWarden));
    log(
      `  ratio warden/direct  ${(bulkWarden.rowsPerSecond / bulkDirect.rowsPerSecond).toFixed(2)}×   (goal ≥ 0.50×)   sample email through Warden: ${masked}`,
    );
    log(
      `  gateway RSS: after pgbench ${gwAfterPgbench.rss.toFixed(0)} MB; during bulk peak ${gwMem.peak.toFixed(0)} MB${peakResettable ? '' : ' (lifetime peak: clear_refs not writable)'} (goal < 200 MB)`,
    );
    const stats = gwStats as { auditEntries: number; recordings: number } | null;
    if (stats)
      log(
        `  gateway wrote ${stats.auditEntries.toLocaleString('en')} audit entries and ${stats.recordings} session recordings during the run`,
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

function pgbenchTable(runs: PgbenchRun[], clients: number[], withBouncer: boolean): string {
  const get = (e: string, m: string, c: number) =>
    runs.find((r) => r.endpoint === e && r.mode === m && r.clients === c);
  const head = [
    'mode',
    'c',
    'direct tps',
    'lat ms',
    ...(withBouncer ? ['bouncer tps', 'lat ms', 'cpu'] : []),
    'warden tps',
    'lat ms',
    'cpu',
    'W/direct',
    ...(withBouncer ? ['W/bouncer', 'added lat W', 'added lat B'] : []),
  ];
  const rows: string[][] = [head];
  const errors: string[] = [];
  for (const m of ['simple', 'prepared']) {
    for (const c of clients) {
      const d = get('direct', m, c);
      const b = get('pgbouncer', m, c);
      const w = get('warden', m, c);
      for (const r of [d, b, w]) if (r?.error) errors.push(`  ${r.endpoint} ${m} c=${c}: ${r.error}`);
      rows.push([
        m,
        String(c),
        fmt(d?.tps),
        fmt(d?.latencyMs, 3),
        ...(withBouncer ? [fmt(b?.tps), fmt(b?.latencyMs, 3), fmt(b?.cpu, 2)] : []),
        fmt(w?.tps),
        fmt(w?.latencyMs, 3),
        fmt(w?.cpu, 2),
        d && w ? `${fmt(w.tps / d.tps, 2)}×` : '—',
        ...(withBouncer
          ? [
              b && w ? `${fmt(w.tps / b.tps, 2)}×` : '—',
              d && w ? `${fmt((w.latencyMs - d.latencyMs) * 1000, 0)} µs` : '—',
              d && b ? `${fmt((b.latencyMs - d.latencyMs) * 1000, 0)} µs` : '—',
            ]
          : []),
      ]);
    }
  }
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
  );
  lines.splice(1, 0, widths.map((w) => '─'.repeat(w)).join('  '));
  const notes = [
    'cpu = cores used by that process (gateway child / pgbouncer) during the run; added lat = avg latency minus direct.',
    "Goals: c=8 warden tps ≥ pgbouncer tps; c=1 added latency ≤ pgbouncer's.",
  ];
  return [...lines, ...notes, ...errors].join('\n');
}

function bulkLine(r: BulkRun): string {
  return `  ${r.endpoint.padEnd(8)} ${r.seconds.toFixed(2).padStart(7)} s  ${fmt(r.rowsPerSecond).padStart(10)} rows/s  ${r.mbPerSecond.toFixed(1).padStart(7)} MB/s`;
}
