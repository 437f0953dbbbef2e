// `tsx bench/pg/memory-only.ts [N] [DIR]`: the memory table's first rows alone (idle, one
// session, 1,000 idle sessions) and the V8 heap spaces with the sessions open, N times with a
// fresh gateway each (default 3) — for changes that touch memory, where the full bench takes ten
// minutes. DIR: a tree holding another src/ to measure instead (an A/B run one after the other).
import { startGatewayChild } from './gateway.js';
import { IDLE_SESSIONS, measureIdleMemory } from './memory.js';
import { startBenchPostgres } from './postgres.js';

const n = Number(process.argv[2] ?? 3);
const srcRoot = process.argv[3];
const mb = (b: number) => (b / 1048576).toFixed(1);

const pg = await startBenchPostgres({ database: 'shop', user: 'app', maxConnections: IDLE_SESSIONS + 50 });
try {
  for (let i = 0; i < n; i++) {
    const gw = await startGatewayChild(pg.direct, { connection: 'shop', ...(srcRoot ? { srcRoot } : {}) });
    try {
      const m = await measureIdleMemory(gw, gw.endpoint);
      const heap = m.withSessionsHeap;
      const perSession = ((m.withSessionsRss - m.warmRss) * 1024) / m.sessions;
      const spaces = Object.entries(heap.spaces ?? {})
        .filter(([, size]) => size > 1048576)
        .map(([name, size]) => `${name.replace('_space', '')} ${mb(size)}`)
        .join(', ');
      console.log(
        `idle ${m.idleRss.toFixed(1)} MB, one session ${m.warmRss.toFixed(1)}, ${m.sessions} sessions ${m.withSessionsRss.toFixed(1)} (+${(m.withSessionsRss - m.idleRss).toFixed(1)} MB, ${perSession.toFixed(1)} KB/session after the first); then heap ${mb(heap.heapUsed)} used of ${mb(heap.heapTotal)} (${spaces}), external ${mb(heap.external)}`,
      );
    } finally {
      await gw.stop();
    }
  }
} finally {
  await pg.stop();
}
