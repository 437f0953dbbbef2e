// V8 doubles the young generation (up to 2 × 16 MB) whenever a scavenge finds most of it still
// alive, which is what start-up looks like: loading ~600 modules, compiling the policy and the
// parser. The idle gateway then keeps ~30 MB of young generation it never fills again (measured:
// `warden start` idle 140–148 → 114–115 MB RSS when start-up cannot grow it). Serving traffic may
// grow it: held at its initial size for good, the gateway lost 2–15% TPS (bench, same run).
// bin/warden.js (and the bench's gateway child, by an --import) holds it before loading
// anything; bin cannot import this file, it picks dist/ or src/ first. `warden start` (and
// `warden demo`) let it grow once the gateway listens — to 2 × 8 MB, not 2 × 16: opening many
// sessions at once looks like start-up too (everything survives), and took it to the full 32 MB
// (1,000 idle sessions: +56 MB RSS, ~30 of it young generation). V8 reads its maximum only when
// the heap is made, so the cap is kept here: after every garbage collection, growth is allowed
// while the young generation is under the cap and held once it reaches it. Measured A/B: 2 × 8 MB
// costs no TPS against 2 × 16 (1.00–1.06×) nor bulk CPU; 2 × 4 MB saved 8 MB more but cost the
// masked bulk read ~45% more CPU per row (3,100 → 4,500 ns).
//
// Growing it back is V8's job; giving it back is not done by V8 on its own: after a burst (1,000
// sessions opened, a load test) the grown young generation stays committed while the gateway
// idles (measured: 16 MB of it, +14 MB RSS, still there 45 s later). A full collection gives it
// back once V8's allocation-rate estimate is low, i.e. after some seconds without garbage
// collection. So when nothing has been collected for QUIET_MS and the young generation is past
// SHRINK_ABOVE, one incremental (async) major collection runs — only in a quiet gateway, at most
// once per quiet period, backing off when it gives nothing back. Measured: 1,000 idle sessions
// 138 → 124 MB RSS.

import { PerformanceObserver, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's own default growth factor (node 20 / V8 11.3). */
const DEFAULT_GROWTH = 2;
/** Both semi-spaces together. */
const YOUNG_GENERATION_CAP = 2 * 8 * 1048576;
/** No collection for this long means the gateway is quiet (V8 then estimates a low allocation rate). */
const QUIET_MS = 10_000;
const MAX_QUIET_MS = 600_000;
const CHECK_MS = 5_000;
/** Grown past this, the young generation is worth giving back (V8 starts at 2 × 1 MB). */
const SHRINK_ABOVE = 4 * 1048576;

type Collect = (options: { type: 'major'; execution: 'async' }) => Promise<void> | undefined;

let observer: PerformanceObserver | undefined;
let growing = false;
let lastCollection = 0;
let quietMs = QUIET_MS;
let collecting = false;

function allowGrowth(grow: boolean): void {
  if (grow === growing) return;
  growing = grow;
  setFlagsFromString(`--semi-space-growth-factor=${grow ? DEFAULT_GROWTH : 1}`);
}

function youngGenerationSize(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_size;
  return 0;
}

/**
 * V8's gc(), without exposing it to the gateway's own global scope: only a throwaway context
 * gets it (made when a collection is due, not kept: a context costs ~2 MB of an idle gateway).
 */
function collector(): Collect | undefined {
  const own = (globalThis as { gc?: Collect }).gc;
  if (typeof own === 'function') return own;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? (gc as Collect) : undefined;
  } catch {
    return undefined;
  }
}

export interface YoungGenerationOptions {
  /** Tests: shorter quiet period and check interval. */
  quietMs?: number;
  checkMs?: number;
}

export function releaseYoungGeneration(opts: YoungGenerationOptions = {}): void {
  allowGrowth(youngGenerationSize() < YOUNG_GENERATION_CAP);
  if (observer) return;
  lastCollection = performance.now();
  observer = new PerformanceObserver(() => {
    lastCollection = performance.now();
    allowGrowth(youngGenerationSize() < YOUNG_GENERATION_CAP);
  });
  observer.observe({ entryTypes: ['gc'] });
  const baseQuiet = opts.quietMs ?? QUIET_MS;
  quietMs = baseQuiet;
  setInterval(() => {
    if (collecting || performance.now() - lastCollection < quietMs || youngGenerationSize() <= SHRINK_ABOVE) return;
    const collect = collector();
    if (!collect) return;
    collecting = true;
    const done = () => {
      collecting = false;
      // Nothing given back (V8 still saw allocation): wait longer before the next try.
      quietMs = youngGenerationSize() > SHRINK_ABOVE ? Math.min(quietMs * 2, MAX_QUIET_MS) : baseQuiet;
    };
    Promise.resolve(collect({ type: 'major', execution: 'async' })).then(done, done);
  }, opts.checkMs ?? CHECK_MS).unref();
}
