// OutBuffer's memory: no slab before the first frame (an idle connection holds nothing), small
// slabs for short replies, slabs that grow while one turn fills them (a bulk result) and shrink
// again after many short turns — with the bytes sent unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutBuffer } from '../../../src/protocols/relay/out-buffer.js';

const row = (i: number) => Buffer.from(`D${String(i).padStart(95, '.')}`); // 96 bytes

test('no slab until the first frame; a short reply gets a small slab', () => {
  const out = new OutBuffer();
  assert.equal(out.buf.length, 0);
  out.push(row(1));
  assert.deepEqual(Buffer.concat(out.take()), row(1));
  assert.ok(out.buf.length > 0 && out.buf.length <= 4096, `slab of ${out.buf.length} bytes`);
});

test('slabs grow while one turn fills them, then shrink after many short turns', () => {
  const out = new OutBuffer();
  const sent: Buffer[] = [];
  const expected: Buffer[] = [];
  // One long turn (a bulk result): 4,000 rows without a take.
  for (let i = 0; i < 4000; i++) {
    out.push(row(i));
    expected.push(row(i));
  }
  sent.push(...out.take());
  const grown = out.buf.length;
  assert.equal(grown, 64 * 1024, `slab after a bulk turn: ${grown}`);
  // Many short turns (one reply each): the slab shrinks back.
  for (let i = 0; i < 4000; i++) {
    out.push(row(i));
    expected.push(row(i));
    sent.push(...out.take());
  }
  assert.ok(out.buf.length <= 8 * 1024, `slab after short turns: ${out.buf.length}`);
  assert.deepEqual(Buffer.concat(sent), Buffer.concat(expected));
});
