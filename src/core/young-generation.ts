// V8 doubles the young generation (up to 2 × 16 MB) whenever a scavenge finds most of it still
// alive, which is what start-up looks like: loading ~600 modules, compiling the policy and the
// parser. The idle gateway then keeps ~30 MB of young generation it never fills again (measured:
// `warden start` idle 140–148 → 114–115 MB RSS when start-up cannot grow it). Serving traffic may
// grow it: held at its initial size for good, the gateway lost 2–15% TPS (bench, same run).
// bin/warden.js (and the bench's gateway child, by an --import) holds it before loading
// anything; bin cannot import this file, it picks dist/ or src/ first. `warden start` (and
// `warden demo`) let it grow once the gateway listens.
import { setFlagsFromString } from 'node:v8';

/** V8's own default growth factor (node 20 / V8 11.3). */
const DEFAULT_GROWTH = 2;

export function releaseYoungGeneration(): void {
  setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH}`);
}
