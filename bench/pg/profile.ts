// `tsx bench/pg/profile.ts [simple|prepared|bulk] [clients|rows] [seconds] [DIR]` — one workload
// against a gateway child with --cpu-prof, so the profile holds the steady-state path alone
// (a full `npm run bench -- --cpu-prof` run mixes start-up, idle sessions, pgbench and bulk):
// pgbench -S at that many clients, or a masked bulk read of that many rows (direct, then through
// the gateway). WARDEN_PROFILE_STRACE=1 also counts the gateway's system calls (strace -c).
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createBulkTable, readBulk } from './bulk.js';
import { startGatewayChild } from './gateway.js';
import { pgbenchInit, pgbenchSelect } from './pgbench.js';
import { startBenchPostgres } from './postgres.js';

const [mode = 'simple', count = mode === 'bulk' ? '1000000' : '8', seconds = '10', dir = '/tmp/warden-prof'] =
  process.argv.slice(2);
await mkdir(dir, { recursive: true });
const pg = await startBenchPostgres({ database: 'shop', user: 'app', maxConnections: 100 });
try {
  const bytes = mode === 'bulk' ? await createBulkTable(pg.direct, Number(count)) : 0;
  if (mode !== 'bulk') await pgbenchInit(pg.direct, 1);
  const gw = await startGatewayChild(pg.direct, { connection: 'shop', cpuProfDir: dir });
  try {
    const strace =
      process.env.WARDEN_PROFILE_STRACE === '1'
        ? spawn('strace', ['-c', '-f', '-p', String(gw.pid)], { stdio: ['ignore', 'inherit', 'inherit'] })
        : undefined;
    if (mode === 'bulk') {
      const direct = await readBulk(pg.direct, Number(count), bytes);
      const warden = await readBulk(gw.endpoint, Number(count), bytes);
      console.log(`bulk ${count} rows: direct ${direct.seconds.toFixed(2)} s, warden ${warden.seconds.toFixed(2)} s`);
    } else {
      const m = mode as 'simple' | 'prepared';
      await pgbenchSelect(gw.endpoint, m, 1, 1);
      const run = await pgbenchSelect(gw.endpoint, m, Number(count), Number(seconds));
      console.log(JSON.stringify(run));
    }
    strace?.kill('SIGINT');
    if (strace) await new Promise((r) => strace.once('close', r));
  } finally {
    await gw.stop();
  }
} finally {
  await pg.stop();
}
console.log(`profile written to ${dir}`);
