// `tsx bench/pg/memory-stages.ts [idle,noidle] [seconds] [DIR]` — the gateway's memory stage by
// stage, each variant with a fresh gateway: after start, after 1,000 idle sessions opened and
// closed (variant `idle` only), after pgbench warm-up and rounds (simple/prepared, c=1/c=8,
// `seconds` each), during (largest sample) and after three masked bulk reads of 200k rows. Each
// line: RSS and peak, V8 heap total/used, external and array buffers, and RSS by mapping from
// /proc/<pid>/smaps ([heap] is glibc malloc's main arena, [anon] mostly V8's heap and other
// mmaps, node the binary). For finding what holds memory when the bench's memory rows move;
// DIR: a tree holding another src/ to measure instead.
import { readFileSync } from 'node:fs';
import { createBulkTable, readBulk, sampleEmail } from './bulk.js';
import { startGatewayChild } from './gateway.js';
import { measureIdleMemory } from './memory.js';
import { pgbenchInit, pgbenchSelect } from './pgbench.js';
import { startBenchPostgres } from './postgres.js';
import { memoryMb, resetPeak } from './proc.js';

const variants = (process.argv[2] ?? 'idle,noidle').split(',');
const seconds = Number(process.argv[3] ?? 3);
const srcRoot = process.argv[4];
const BULK_ROWS = 200_000;
const mb = (b: number) => (b / 1048576).toFixed(0);

/** RSS (MB) by mapping name, largest first, those over 2 MB. */
function rssByMapping(pid: number): string {
  const by = new Map<string, number>();
  let name = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      name = (m[1] || '[anon]').replace(/.*\//, '');
      continue;
    }
    const r = /^Rss:\s+(\d+)/.exec(line);
    if (r) by.set(name, (by.get(name) ?? 0) + Number(r[1]) / 1024);
  }
  return [...by]
    .filter(([, v]) => v > 2)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ');
}

const pg = await startBenchPostgres({ database: 'shop', user: 'app', maxConnections: 1100 });
try {
  await pgbenchInit(pg.direct, 1);
  const bytes = await createBulkTable(pg.direct, BULK_ROWS);
  for (const variant of variants) {
    const gw = await startGatewayChild(pg.direct, { connection: 'shop', ...(srcRoot ? { srcRoot } : {}) });
    const snapshot = async () => {
      const m = await gw.memoryUsage();
      const { rss, peak } = memoryMb(gw.pid);
      return {
        rss,
        line: `rss ${rss.toFixed(0)} peak ${peak.toFixed(0)} | heap ${mb(m.heapTotal)}/${mb(m.heapUsed)} external ${mb(m.external)} array buffers ${mb(m.arrayBuffers)} | ${rssByMapping(gw.pid)}`,
      };
    };
    const show = async (stage: string) => console.log(`${variant} ${stage.padEnd(20)} ${(await snapshot()).line}`);
    try {
      await show('start');
      if (variant === 'idle') {
        await measureIdleMemory(gw, gw.endpoint);
        await show('idle sessions closed');
      }
      for (const mode of ['simple', 'prepared'] as const)
        for (const c of [1, 8]) await pgbenchSelect(gw.endpoint, mode, c, seconds);
      await show('pgbench warm-up');
      for (let i = 0; i < 3; i++)
        for (const mode of ['simple', 'prepared'] as const)
          for (const c of [1, 8]) await pgbenchSelect(gw.endpoint, mode, c, seconds);
      await show('pgbench rounds');
      await sampleEmail(gw.endpoint);
      resetPeak(gw.pid);
      let reading = true;
      let largest = { rss: 0, line: '' };
      const sampler = (async () => {
        while (reading) {
          const s = await snapshot();
          if (s.rss > largest.rss) largest = s;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      for (let i = 0; i < 3; i++) await readBulk(gw.endpoint, BULK_ROWS, bytes);
      reading = false;
      await sampler;
      console.log(`${variant} ${'bulk (largest)'.padEnd(20)} ${largest.line}`);
      await show('bulk done');
    } finally {
      await gw.stop();
    }
  }
} finally {
  await pg.stop();
}
