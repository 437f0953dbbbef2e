// OutBuffer's memory: no slab before the first frame (an idle connection holds nothing), a small
// first slab, large slabs while slabs are used up quickly (a bulk result, a busy session) and
// small ones again once a slab lasted long (a quiet session) — with the bytes sent unchanged.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { OutBuffer } from '../../../src/protocols/relay/out-buffer.js';

const row = (i: number) => Buffer.from(`D${String(i).padStart(95, '.')}`); // 96 bytes

test('no slab until the first frame; a short reply gets a small slab', () => {
  const out = new OutBuffer();
  assert.equal(out.buf.length, 0);
  out.push(row(1));
  assert.deepEqual(Buffer.concat(out.take()), row(1));
  assert.ok(out.buf.length > 0 && out.buf.length <= 4096, `slab of ${out.buf.length} bytes`);
});

test('slabs used up quickly are followed by large ones, a slab that lasted long by a small one', (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const out = new OutBuffer();
  const sent: Buffer[] = [];
  const expected: Buffer[] = [];
  const send = (i: number) => {
    out.push(row(i));
    expected.push(row(i));
    sent.push(...out.take());
  };
  // A burst: 4,000 replies at once.
  for (let i = 0; i < 4000; i++) send(i);
  assert.equal(out.buf.length, 64 * 1024, `slab after a burst: ${out.buf.length}`);
  // Quiet: one reply a minute until the large slab is used up, then the next slab is small.
  let i = 0;
  while (out.buf.length === 64 * 1024 && i < 10_000) {
    mock.timers.tick(60_000);
    send(i++);
  }
  assert.ok(out.buf.length <= 4096, `slab after quiet replies: ${out.buf.length}`);
  assert.deepEqual(Buffer.concat(sent), Buffer.concat(expected));
});
