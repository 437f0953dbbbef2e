// `tsx bench/pg/memory-only.ts [N] [DIR]`: the memory table's first rows alone (idle, one
// session, 1,000 idle sessions), N times with a fresh gateway each (default 3) — for changes
// that touch memory, where the full bench takes ten minutes. DIR: a tree holding another src/ to
// measure instead (an A/B run one after the other).
import { startGatewayChild } from './gateway.js';
import { IDLE_SESSIONS, measureIdleMemory } from './memory.js';
import { startBenchPostgres } from './postgres.js';

const n = Number(process.argv[2] ?? 3);
const srcRoot = process.argv[3];
const pg = await startBenchPostgres({ database: 'shop', user: 'app', maxConnections: IDLE_SESSIONS + 50 });
try {
  for (let i = 0; i < n; i++) {
    const gw = await startGatewayChild(pg.direct, { connection: 'shop', ...(srcRoot ? { srcRoot } : {}) });
    try {
      const m = await measureIdleMemory(gw, gw.endpoint);
      const perSession = ((m.withSessionsRss - m.warmRss) * 1024) / m.sessions;
      console.log(
        `idle ${m.idleRss.toFixed(1)} MB, after one session ${m.warmRss.toFixed(1)} MB, with ${m.sessions} sessions ${m.withSessionsRss.toFixed(1)} MB (+${(m.withSessionsRss - m.idleRss).toFixed(1)} MB; ${perSession.toFixed(1)} KB/session after the first); heap ${(m.heap.heapUsed / 1048576).toFixed(1)} MB used`,
      );
    } finally {
      await gw.stop();
    }
  }
} finally {
  await pg.stop();
}
