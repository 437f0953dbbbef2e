#!/usr/bin/env node
// The long fuzz run: every target of test/unit/fuzz/targets.ts (the same properties the smoke
// run in `npm test` checks a few hundred times), FUZZ_RUNS inputs each (default 1,000,000), in
// batches of FUZZ_BATCH with successive seeds from FUZZ_SEED, printing inputs/s and the process
// RSS as it goes. A counterexample is printed with its seed and path (fast-check replays it
// exactly); the run goes on to the next target and exits 1 at the end. Known findings
// (KNOWN_FINDINGS, in code this suite does not own) are reported but do not fail the run.
//
//   npm run fuzz                               # all targets, 1M inputs each
//   FUZZ_RUNS=50000 FUZZ_TARGETS=pg-backend,http-path npm run fuzz
import { register } from 'tsx/esm/api';

register();
const fc = (await import('fast-check')).default;
const { TARGETS, KNOWN_FINDINGS } = await import('../test/unit/fuzz/targets.ts');

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000_000);
const BATCH = Number(process.env.FUZZ_BATCH ?? 20_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const only = process.env.FUZZ_TARGETS?.split(',').filter(Boolean);
const names = only ?? Object.keys(TARGETS);
for (const n of names)
  if (!TARGETS[n]) throw new Error(`no fuzz target ${n} (known: ${Object.keys(TARGETS).join(', ')})`);

const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const failures = [];
const summary = [];
process.stdout.write(`fuzz: ${names.length} targets, ${RUNS} inputs each, seed ${SEED}\n`);
for (const name of names) {
  const target = TARGETS[name];
  await target.setup?.();
  const started = process.hrtime.bigint();
  let done = 0;
  let peakRss = process.memoryUsage().rss;
  let failed;
  for (let batch = 0; done < RUNS && !failed; batch++) {
    const numRuns = Math.min(BATCH, RUNS - done);
    const seed = (SEED + batch) | 0;
    const r = fc.check(target.property(), { seed, numRuns, endOnFailure: true });
    done += r.numRuns;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (r.failed)
      failed = { seed, path: r.counterexamplePath, counterexample: r.counterexample, error: r.errorInstance };
    const secs = Number(process.hrtime.bigint() - started) / 1e9;
    if (batch % 10 === 9 || done >= RUNS || failed)
      process.stdout.write(
        `  ${name}: ${done} inputs, ${Math.round(done / secs)}/s, rss ${mib(process.memoryUsage().rss)}\n`,
      );
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const line = {
    target: name,
    inputs: done,
    seconds: Math.round(secs),
    perSecond: Math.round(done / secs),
    peakRss: mib(peakRss),
  };
  if (failed) {
    const known = KNOWN_FINDINGS[name];
    line.result = known ? 'known finding' : 'FAILED';
    process.stdout.write(
      `  ${name}: ${known ? 'known finding' : 'COUNTEREXAMPLE'} (seed ${failed.seed}, path ${failed.path}): ${JSON.stringify(failed.counterexample)}\n    ${String(failed.error?.message ?? failed.error).split('\n')[0]}\n`,
    );
    if (!known) failures.push(name);
  } else line.result = 'ok';
  summary.push(line);
}
process.stdout.write('\nfuzz summary\n');
for (const s of summary)
  process.stdout.write(
    `  ${s.target.padEnd(18)} ${String(s.inputs).padStart(9)} inputs ${String(s.perSecond).padStart(7)}/s ${String(s.seconds).padStart(6)} s  peak rss ${s.peakRss}  ${s.result}\n`,
  );
process.exit(failures.length > 0 ? 1 : 0);
