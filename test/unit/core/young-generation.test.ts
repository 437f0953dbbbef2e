// The quiet-gateway collection gives the grown young generation back: a child process (V8 flags
// are process-wide) grows it with a burst that keeps what it allocates, as opening many sessions
// does, then goes quiet; the young generation must shrink without anything else collecting.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

const CHILD = `
import { getHeapSpaceStatistics } from 'node:v8';
import { releaseYoungGeneration } from ${JSON.stringify(new URL('../../../src/core/young-generation.ts', import.meta.url).href)};
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const gcVisible = typeof globalThis.gc;
releaseYoungGeneration({ quietMs: 6000, checkMs: 200 });
const keep = [];
for (let i = 0; i < 3000; i++) {
  keep.push({ a: new Array(200).fill(i), s: 'x'.repeat(100) + i });
  await new Promise((r) => setImmediate(r));
}
const grown = young();
const t = Date.now();
while (young() >= grown && Date.now() - t < 20000) await new Promise((r) => setTimeout(r, 250));
console.log(JSON.stringify({ grown, after: young(), kept: keep.length, gcVisible }));
`;

test('a quiet process gives its grown young generation back, without exposing gc', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    timeout: 60_000,
  });
  const r = JSON.parse(stdout.trim()) as { grown: number; after: number; kept: number; gcVisible: string };
  assert.equal(r.kept, 3000);
  assert.equal(r.gcVisible, 'undefined', 'gc() is not put in the global scope');
  assert.ok(r.grown > 4 * 1048576, `the burst grew the young generation (${r.grown})`);
  assert.ok(r.after <= 4 * 1048576, `given back while quiet: ${r.grown} → ${r.after}`);
});
