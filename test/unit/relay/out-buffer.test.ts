// OutBuffer.pushFrom: a frame copied straight from a reader's buffer range goes out byte for byte
// as push(subarray) would, small (byte loop), medium (copy) and large (queued as a view) alike,
// across slab boundaries, and bytes already taken are never written over.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutBuffer } from '../../../src/protocols/relay/out-buffer.js';

function frames(): Buffer[] {
  const out: Buffer[] = [];
  for (const n of [1, 5, 64, 65, 300, 8 * 1024, 8 * 1024 + 1, 20_000, 3, 70_000, 17]) {
    out.push(Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff)));
  }
  return out;
}

test('pushFrom sends the same bytes as push(subarray), in order', () => {
  const source = Buffer.concat([Buffer.from('prefix'), ...frames(), Buffer.from('suffix')]);
  const viaPush = new OutBuffer();
  const viaFrom = new OutBuffer();
  let pos = 6;
  const views: Buffer[] = [];
  for (let round = 0; round < 5; round++) {
    pos = 6;
    for (const f of frames()) {
      viaPush.push(source.subarray(pos, pos + f.length));
      viaFrom.pushFrom(source, pos, pos + f.length);
      pos += f.length;
    }
    const a = Buffer.concat(viaPush.take());
    const parts = viaFrom.take();
    views.push(...parts);
    assert.ok(Buffer.concat(parts).equals(a), `round ${round}`);
    assert.ok(a.equals(source.subarray(6, pos)));
  }
  // Taken bytes stay as they were after more pushes (the slab rule).
  const copies = Buffer.concat(views);
  for (let i = 0; i < 500; i++) viaFrom.pushFrom(source, 6 + (i % 7), 306);
  assert.ok(Buffer.concat(views).equals(copies), 'views handed out are never written over');
  assert.equal(viaFrom.empty, false);
  viaFrom.take();
  assert.equal(viaFrom.empty, true);
});
