// The audit append as the data path sees it: 8 "sessions" in one process, each appending an
// operation-shaped entry and awaiting its commit before the next (as a write statement does),
// on a SQLite file store. Commits on the event loop (`writerThread: false`), the writer thread,
// and the journal of `warden start` (appendDurable: durable once journaled; entries per commit
// is then per move into audit_log), interleaved rounds, medians. Reported per append: CPU of the main thread (what
// the event loop pays), of the whole process (all threads), and entries per commit.
//   npx tsx bench/audit.bench.ts [--seconds 2] [--rounds 3] [--sessions 8]
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditLog } from '../src/audit/index.js';
import { openStore } from '../src/store/index.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    sessions: { type: 'string', default: '8' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const SESSIONS = Number(args.sessions);

function cpuSeconds(file: string): number {
  const stat = readFileSync(file, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const mainCpu = () => cpuSeconds(`/proc/self/task/${process.pid}/stat`);
const allCpu = () => cpuSeconds('/proc/self/stat');

interface Run {
  appendsPerSecond: number;
  mainUs: number;
  allUs: number;
  perCommit: number;
}

async function run(log: AuditLog, journal: boolean): Promise<Run> {
  const before = log.commits;
  const m0 = mainCpu();
  const a0 = allCpu();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  let appends = 0;
  const session = async (s: number) => {
    for (let i = 0; performance.now() < deadline; i++) {
      const entry = {
        type: 'operation',
        actor: 'bench-agent',
        session: `s_${s}`,
        connection: 'shop',
        data: {
          op: `op_${s}_${i}`,
          kind: 'sql',
          text: `SELECT abalance FROM pgbench_accounts WHERE aid = ${i};`,
          effect: 'allow',
          rules: [],
          reasons: [],
          issuer: 'http://127.0.0.1:8080',
        },
      };
      await (journal ? log.appendDurable(entry) : log.append(entry));
      appends++;
    }
  };
  await Promise.all(Array.from({ length: SESSIONS }, (_, s) => session(s)));
  if (journal) await log.flush(); // its moves into audit_log are part of the cost
  const wall = (performance.now() - started) / 1000;
  const after = log.commits;
  return {
    appendsPerSecond: appends / wall,
    mainUs: ((mainCpu() - m0) * 1e6) / appends,
    allUs: ((allCpu() - a0) * 1e6) / appends,
    perCommit: (after.entries - before.entries) / Math.max(1, after.batches - before.batches),
  };
}

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const dir = await mkdtemp(join(tmpdir(), 'warden-audit-bench-'));
try {
  const modes = [
    { name: 'event loop (writerThread: false)', writerThread: false, journal: false },
    { name: 'writer thread', writerThread: true, journal: false },
    { name: 'journal (warden start)', writerThread: false, journal: true },
  ];
  const logs = await Promise.all(
    modes.map(async (m, i) => {
      const log = new AuditLog(await openStore(`sqlite:${join(dir, `a${i}.db`)}`), m);
      if (m.journal) log.useJournal('bench', 'all');
      return log;
    }),
  );
  for (let i = 0; i < modes.length; i++) await run(logs[i]!, modes[i]!.journal); // warm-up
  const results: Run[][] = modes.map(() => []);
  for (let r = 0; r < ROUNDS; r++)
    for (let i = 0; i < modes.length; i++) results[i]!.push(await run(logs[i]!, modes[i]!.journal));
  console.log(
    `Audit append, SQLite file store, ${SESSIONS} sessions each awaiting its commit, ${ROUNDS}×${SECONDS}s interleaved, medians`,
  );
  console.log(
    `${'path'.padEnd(34)} ${'appends/s'.padStart(10)} ${'main µs/append'.padStart(15)} ${'all µs/append'.padStart(14)} ${'per commit'.padStart(11)}`,
  );
  for (let i = 0; i < modes.length; i++) {
    const rs = results[i]!;
    const med = (f: (x: Run) => number) => median(rs.map(f));
    console.log(
      `${modes[i]!.name.padEnd(34)} ${med((x) => x.appendsPerSecond)
        .toFixed(0)
        .padStart(10)} ${med((x) => x.mainUs)
        .toFixed(1)
        .padStart(15)} ${med((x) => x.allUs)
        .toFixed(1)
        .padStart(14)} ${med((x) => x.perCommit)
        .toFixed(1)
        .padStart(11)}`,
    );
  }
  for (const log of logs) await log.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
