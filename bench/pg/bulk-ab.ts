// `tsx bench/pg/bulk-ab.ts DIR [rows] [rounds]` — the masked bulk read alone, A/B: this tree's
// gateway against one built from DIR (a tree holding another src/, e.g. a `git worktree`),
// read in turn with direct for `rounds` interleaved rounds (default 400,000 rows, 5 rounds).
// For changes to the row path, where `npm run bench -- --quick --compare` reads 200k rows three
// times and the machine's speed drifts more than the change. Prints wall seconds and the
// gateway's CPU per row for each read, and the medians.
import { createBulkTable, readBulk } from './bulk.js';
import { startGatewayChild } from './gateway.js';
import { startBenchPostgres } from './postgres.js';

const [baseRoot, rowsArg = '400000', roundsArg = '5'] = process.argv.slice(2);
if (!baseRoot) {
  console.error('usage: tsx bench/pg/bulk-ab.ts DIR [rows] [rounds]');
  process.exit(2);
}
const rows = Number(rowsArg);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const pg = await startBenchPostgres({ database: 'shop', user: 'app', maxConnections: 50 });
try {
  const bytes = await createBulkTable(pg.direct, rows);
  const warden = await startGatewayChild(pg.direct, { connection: 'shop', name: 'warden' });
  const base = await startGatewayChild(pg.direct, { connection: 'shop', name: 'base', srcRoot: baseRoot });
  try {
    // One read each first: the session's first-use loads stay out of the measured rounds.
    await readBulk(warden.endpoint, rows, bytes);
    await readBulk(base.endpoint, rows, bytes);
    const endpoints = [pg.direct, warden.endpoint, base.endpoint];
    const runs = new Map(endpoints.map((e) => [e.name, [] as { seconds: number; nsPerRow: number }[]]));
    for (let round = 0; round < Number(roundsArg); round++) {
      for (const e of endpoints) {
        const r = await readBulk(e, rows, bytes);
        runs.get(e.name)!.push({ seconds: r.seconds, nsPerRow: ((r.cpuSeconds ?? 0) * 1e9) / rows });
      }
    }
    for (const [name, v] of runs) {
      const cpu =
        name === pg.direct.name
          ? ''
          : `   CPU ns/row ${v.map((x) => x.nsPerRow.toFixed(0)).join(' ')} (median ${median(v.map((x) => x.nsPerRow)).toFixed(0)})`;
      console.log(
        `${name.padEnd(7)} s ${v.map((x) => x.seconds.toFixed(2)).join(' ')} (median ${median(v.map((x) => x.seconds)).toFixed(2)})${cpu}`,
      );
    }
  } finally {
    await warden.stop();
    await base.stop();
  }
} finally {
  await pg.stop();
}
