// The gateway's memory, as the goals state it: RSS idle after start, with 1,000 idle
// sessions (and the per-session delta), after the pgbench runs, and the peak during the masked
// bulk read; plus the V8 heap / native split of the idle process (process.memoryUsage()).
import type { Endpoint } from './endpoint.js';
import type { RunningGatewayChild } from './gateway.js';
import { openIdleSessions } from './idle.js';
import { memoryMb } from './proc.js';

export const IDLE_SESSIONS = 1000;

export interface IdleMemory {
  /** RSS (MB) a few seconds after start, no session yet. */
  idleRss: number;
  /** RSS (MB) after one session came and went (first-use loads and caches are in). */
  warmRss: number;
  /** RSS (MB) with `sessions` idle sessions open. */
  withSessionsRss: number;
  sessions: number;
  heap: NodeJS.MemoryUsage;
  /** process.memoryUsage() and V8's heap space sizes (bytes) while the sessions are open. */
  withSessionsHeap: HeapReport;
}

export type HeapReport = NodeJS.MemoryUsage & { spaces?: Record<string, number> };

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Measures the gateway idle, then with `n` idle sessions (closed again before returning). */
export async function measureIdleMemory(
  gw: RunningGatewayChild,
  endpoint: Endpoint,
  n = IDLE_SESSIONS,
): Promise<IdleMemory> {
  await settle(2000);
  const idleRss = memoryMb(gw.pid).rss;
  const heap = await gw.memoryUsage();
  const one = await openIdleSessions(endpoint, 1);
  await one.close();
  await settle(1000);
  const warmRss = memoryMb(gw.pid).rss;
  const many = await openIdleSessions(endpoint, n);
  try {
    await settle(2000);
    const withSessionsRss = memoryMb(gw.pid).rss;
    const withSessionsHeap: HeapReport = await gw.memoryUsage();
    return { idleRss, warmRss, withSessionsRss, sessions: many.count, heap, withSessionsHeap };
  } finally {
    await many.close();
  }
}

export interface MemoryReport {
  idle: IdleMemory;
  afterPgbenchRss: number;
  bulkPeakRss: number;
  bulkPeakIsPhase: boolean;
  bulkRows: number;
}

const mb = (bytes: number) => bytes / 1048576;

/** The memory table: one row per measurement, with the goal it is held to. */
export function memoryTable(r: MemoryReport): string {
  const { idle } = r;
  // Judged on the growth over the idle process; the per-session figure leaves out what the first
  // session loads once (the target's catalog caches, first-use code), which is not per session.
  const added = idle.withSessionsRss - idle.idleRss;
  const perSessionKb = ((idle.withSessionsRss - idle.warmRss) * 1024) / idle.sessions;
  const ok = (good: boolean) => (good ? 'met' : 'NOT met');
  const rows: [string, string, string, string][] = [
    ['gateway RSS', 'MB', 'goal', ''],
    ['idle after start', idle.idleRss.toFixed(0), '< 100 MB', ok(idle.idleRss < 100)],
    ['after one session (first-use loads: SQL parser, caches)', idle.warmRss.toFixed(0), '', ''],
    [
      `with ${idle.sessions.toLocaleString('en')} idle sessions`,
      idle.withSessionsRss.toFixed(0),
      '< +40 MB',
      `${ok(added < 40)}: +${added.toFixed(1)} MB over idle; ${perSessionKb.toFixed(1)} KB/session after the first (goal < 40 KB)`,
    ],
    ['after the pgbench runs', r.afterPgbenchRss.toFixed(0), '', ''],
    [
      `peak during the bulk read (${r.bulkRows.toLocaleString('en')} rows)`,
      r.bulkPeakRss.toFixed(0),
      '< 200 MB',
      `${ok(r.bulkPeakRss < 200)}${r.bulkPeakIsPhase ? '' : ' (lifetime peak: clear_refs not writable)'}`,
    ],
  ];
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) =>
    [row[0].padEnd(w[0]!), row[1].padStart(w[1]!), row[2].padEnd(w[2]!), row[3]].join('  ').trimEnd(),
  );
  const h = idle.heap;
  lines.push(
    `idle process.memoryUsage(): V8 heap ${mb(h.heapUsed).toFixed(0)} MB used of ${mb(h.heapTotal).toFixed(0)} MB, external ${mb(h.external).toFixed(0)} MB, array buffers ${mb(h.arrayBuffers).toFixed(1)} MB`,
  );
  return lines.join('\n');
}
