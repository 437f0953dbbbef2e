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
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** V8's own default growth factor (node 20 / V8 11.3). */
const DEFAULT_GROWTH = 2;
/** Both semi-spaces together. */
const YOUNG_GENERATION_CAP = 2 * 8 * 1048576;

let observer: PerformanceObserver | undefined;
let growing = false;

function allowGrowth(grow: boolean): void {
  if (grow === growing) return;
  growing = grow;
  setFlagsFromString(`--semi-space-growth-factor=${grow ? DEFAULT_GROWTH : 1}`);
}

function youngGenerationSize(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_size;
  return 0;
}

export function releaseYoungGeneration(): void {
  allowGrowth(youngGenerationSize() < YOUNG_GENERATION_CAP);
  if (observer) return;
  observer = new PerformanceObserver(() => allowGrowth(youngGenerationSize() < YOUNG_GENERATION_CAP));
  observer.observe({ entryTypes: ['gc'] });
}
