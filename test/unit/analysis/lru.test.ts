// LruCache (src/analysis/lru.ts): bounded; the entry not used for longest goes first, and one
// used at least once every max/2 insertions is never evicted, however many others come and go.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LruCache } from '../../../src/analysis/lru.js';

test('bounded; an unused entry leaves after max newer ones; a hit keeps an entry from the older half', () => {
  const c = new LruCache<string, number>(4);
  for (const k of ['a', 'b', 'c', 'd']) c.set(k, k.charCodeAt(0));
  assert.equal(c.get('a'), 97);
  c.set('e', 1);
  assert.equal(c.size, 4);
  // 'a' was hit while in the older half (4 insertions ago > 4/2): re-inserted, so 'b' went.
  assert.equal(c.get('b'), undefined);
  assert.equal(c.get('a'), 97);
  c.set('a', 2);
  assert.equal(c.get('a'), 2, 'set replaces');
  c.clear();
  assert.equal(c.size, 0);
  assert.throws(() => new LruCache(0), TypeError);
});

test('property: an entry hit at least once every max/2 insertions is never evicted; size never exceeds max', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 64 }), fc.array(fc.nat(200), { maxLength: 800 }), (max, keys) => {
      const c = new LruCache<number, number>(max);
      c.set(-1, -1);
      let since = 0;
      for (const k of keys) {
        c.set(k, k);
        since++;
        assert.ok(c.size <= max);
        assert.equal(c.get(k), k, 'what was just set is there');
        if (since >= max >>> 1) {
          assert.equal(c.get(-1), -1, 'the entry hit every max/2 insertions is kept');
          since = 0;
        }
      }
    }),
    { numRuns: 300 },
  );
});
