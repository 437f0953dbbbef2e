import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainSched, type Role } from '../../../bench/pg/sched-hops.js';

// Shaped like `perf sched timehist -w`: pgbench (CPU 0) → gateway (CPU 1) → postgres (CPU 0) → gateway → pgbench.
const TIMEHIST = `
           time    cpu  task name                       wait time  sch delay   run time
                        [tid/pid]                          (msec)     (msec)     (msec)
--------------- ------  ------------------------------  ---------  ---------  ---------
    9484.129490 [0000]  pgbench[27743]                                                   awakened: node[27727]
    9484.129504 [0000]  pgbench[27743]                      0.304      0.040      0.035
    9484.129577 [0001]  node[27727]                                                      awakened: postgres[27745]
    9484.129637 [0001]  node[27727]                         0.038      0.023      0.123
    9484.129640 [0001]  node[27729/27727]                   0.100      0.001      0.010
    9484.129687 [0000]  postgres[27745]                                                  awakened: node[27727]
    9484.129710 [0000]  postgres[27745]                     0.247      0.036      0.097
    9484.129773 [0001]  node[27727]                                                      awakened: pgbench[27743]
    9484.129816 [0001]  node[27727]                         0.093      0.042      0.086
    9484.129850 [0001]  pgbench[27743]                      0.307      0.004      0.037
`;

test('sched hops: run time by role, wake-ups by hop with cross-CPU ones and their delays', () => {
  const roleOf = (t: { comm: string; tid: number }): Role | null =>
    t.comm === 'pgbench' ? 'client' : t.comm === 'postgres' ? 'server' : t.tid === 27727 ? 'proxy' : null;
  const s = chainSched(TIMEHIST, roleOf);
  assert.ok(Math.abs(s.seconds - 0.000346) < 1e-9);
  // The gateway's helper thread (27729) is no role: its run time is not the proxy's.
  assert.deepEqual(s.runMs, { client: 0.035 + 0.037, proxy: 0.123 + 0.086, server: 0.097 });
  const byHop = new Map(s.hops.map((h) => [h.hop, h]));
  // pgbench woke the gateway, which ran on CPU 1: cross-CPU, 23 µs.
  assert.deepEqual(byHop.get('client→proxy'), {
    hop: 'client→proxy',
    count: 1,
    crossCpu: 1,
    crossDelayMs: 0.023,
    sameDelayMs: 0,
  });
  assert.equal(byHop.get('proxy→server')!.crossCpu, 1);
  assert.equal(byHop.get('server→proxy')!.crossDelayMs, 0.042);
  // The gateway (CPU 1) woke pgbench, which then ran on CPU 1 too: same CPU, 4 µs.
  assert.deepEqual(byHop.get('proxy→client'), {
    hop: 'proxy→client',
    count: 1,
    crossCpu: 0,
    crossDelayMs: 0,
    sameDelayMs: 0.004,
  });
});
