// Reading `perf sched timehist -w` output into the hops of a request chain (pgbench → proxy →
// PostgreSQL → proxy → pgbench): for each wake-up of one of the chain's threads, who woke it,
// whether the wakee then ran on another CPU than its waker's (a cross-CPU wake-up: on this VM an
// idle vCPU must be woken first, tens of µs), and its scheduling delay (wake-up to running).
//
// timehist -w prints two kinds of lines (times in s, delays in ms):
//   9484.129428 [0001]  node[27727]            awakened: pgbench[27743]
//   9484.129475 [0001]  node[27727]    0.069      0.042      0.089
// the second being the end of a run slice: wait time, scheduling delay, run time.

export type Role = 'client' | 'proxy' | 'server';

export interface HopStats {
  /** "client→proxy" etc. */
  hop: string;
  count: number;
  crossCpu: number;
  /** Sum of scheduling delays (ms) of cross-CPU and same-CPU wake-ups. */
  crossDelayMs: number;
  sameDelayMs: number;
}

export interface ChainSched {
  /** Seconds between the first and the last line. */
  seconds: number;
  /** Run time (ms) of each role's thread(s) in that span. */
  runMs: Record<Role, number>;
  hops: HopStats[];
}

interface Task {
  comm: string;
  tid: number;
}

const WAKE = /^\s*([\d.]+)\s+\[(\d+)\]\s+(\S+)\s+awakened:\s+(\S+)\s*$/;
const RUN = /^\s*([\d.]+)\s+\[(\d+)\]\s+(\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/;

function task(s: string): Task | null {
  // comm[tid] or comm[tid/pid]; comm may itself hold brackets or spaces elided by perf.
  const m = /^(.*)\[(\d+)(?:\/\d+)?\]$/.exec(s);
  return m ? { comm: m[1]!, tid: Number(m[2]) } : null;
}

/**
 * The chain's hops and run times. `roleOf` names the chain's threads (by comm and tid); every
 * other thread is ignored, and so are wake-ups by one.
 */
export function chainSched(text: string, roleOf: (t: Task) => Role | null): ChainSched {
  const wokenBy = new Map<number, { role: Role; cpu: number }>();
  const hops = new Map<string, HopStats>();
  const runMs: Record<Role, number> = { client: 0, proxy: 0, server: 0 };
  let first = Number.NaN;
  let last = Number.NaN;
  for (const line of text.split('\n')) {
    const wake = WAKE.exec(line);
    if (wake) {
      const waker = task(wake[3]!);
      const wakee = task(wake[4]!);
      const role = waker && roleOf(waker);
      if (!wakee || !role || !roleOf(wakee)) continue;
      wokenBy.set(wakee.tid, { role, cpu: Number(wake[2]) });
      continue;
    }
    const run = RUN.exec(line);
    if (!run) continue;
    const at = Number(run[1]);
    if (Number.isNaN(first)) first = at;
    last = at;
    const t = task(run[3]!);
    const role = t && roleOf(t);
    if (!t || !role) continue;
    runMs[role] += Number(run[6]);
    const by = wokenBy.get(t.tid);
    if (!by) continue;
    wokenBy.delete(t.tid);
    const key = `${by.role}→${role}`;
    let h = hops.get(key);
    if (!h) {
      h = { hop: key, count: 0, crossCpu: 0, crossDelayMs: 0, sameDelayMs: 0 };
      hops.set(key, h);
    }
    h.count++;
    const delay = Number(run[5]);
    if (Number(run[2]) !== by.cpu) {
      h.crossCpu++;
      h.crossDelayMs += delay;
    } else h.sameDelayMs += delay;
  }
  return { seconds: Number.isNaN(first) ? 0 : last - first, runMs, hops: [...hops.values()] };
}
