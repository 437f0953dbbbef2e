import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { AuditLog, type AuditRecord, GENESIS_HASH } from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { isWardenError } from '../../../src/core/errors.js';
import type { Store } from '../../../src/store/index.js';
import { BACKENDS, type StoreBackend } from '../../integration/store/backends.js';

async function fill(log: AuditLog, n: number): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await log.append({
        type: 'sql',
        actor: 'agent-1',
        session: 's_1',
        connection: 'shop',
        data: { i, text: `select ${i}` },
      }),
    );
  }
  return out;
}

for (const backend of BACKENDS) {
  describe(`audit log on ${backend.name}`, () => {
    let b: StoreBackend;
    const stores: Store[] = [];
    const fresh = async () => {
      const s = await b.open();
      stores.push(s);
      return s;
    };
    before(async () => {
      b = await backend.start();
    });
    after(async () => {
      for (const s of stores) await s.close().catch(() => undefined);
      await b?.stop();
    });

    test('appends link each entry to the previous one and list/filter them', async () => {
      const clock = new ManualClock();
      const log = new AuditLog(await fresh(), { clock });
      const first = await log.append({
        type: 'session.start',
        actor: 'alice',
        session: 's_1',
        connection: 'shop',
        data: { client: 'psql' },
      });
      clock.advance(1000);
      const second = await log.append({
        type: 'sql',
        actor: 'alice',
        data: { text: 'select 1', password: 'hunter2', effect: 'allow' },
      });
      assert.equal(first.seq, 1);
      assert.equal(first.prevHash, GENESIS_HASH);
      assert.equal(second.seq, 2);
      assert.equal(second.prevHash, first.hash);
      assert.match(second.hash, /^[0-9a-f]{64}$/);
      assert.deepEqual(second.data, { effect: 'allow', text: 'select 1' }, 'secret-named keys are stripped');
      assert.equal(second.session, null);

      const all = await log.list();
      assert.deepEqual(all, [first, second]);
      assert.deepEqual(await log.list({ type: 'sql' }), [second]);
      assert.deepEqual(await log.list({ since: first.at + 1 }), [second]);
      assert.deepEqual(await log.list({ afterSeq: 1 }), [second]);
      assert.deepEqual(await log.list({ limit: 1 }), [first]);
      assert.deepEqual(await log.verify(), { ok: true, checked: 2 });
    });

    test('verify passes on an empty log', async () => {
      assert.deepEqual(await new AuditLog(await fresh()).verify(), { ok: true, checked: 0 });
    });

    test('an edited row fails verify as hash-mismatch at that row', async () => {
      const store = await fresh();
      const log = new AuditLog(store);
      const recs = await fill(log, 10);
      await store.db.updateTable('audit_log').set({ data: '{"i":4,"text":"select 0"}' }).where('seq', '=', 5).execute();
      assert.deepEqual(await log.verify(), {
        ok: false,
        checked: 4,
        firstBad: { seq: 5, id: recs[4]!.id, reason: 'hash-mismatch' },
      });
    });

    test('an edited row whose hash was recomputed breaks the next link', async () => {
      const store = await fresh();
      const log = new AuditLog(store);
      const recs = await fill(log, 6);
      const { chainHash } = await import('../../../src/audit/index.js');
      const r = recs[2]!;
      const data = '{"i":2,"text":"drop table x"}';
      const hash = chainHash(r.prevHash, r, data);
      await store.db.updateTable('audit_log').set({ data, hash }).where('seq', '=', 3).execute();
      assert.deepEqual(await log.verify(), {
        ok: false,
        checked: 3,
        firstBad: { seq: 4, id: recs[3]!.id, reason: 'broken-link' },
      });
    });

    test('a deleted row fails verify as missing at the row after the gap', async () => {
      const store = await fresh();
      const log = new AuditLog(store);
      const recs = await fill(log, 10);
      await store.db.deleteFrom('audit_log').where('seq', '=', 5).execute();
      assert.deepEqual(await log.verify(), {
        ok: false,
        checked: 4,
        firstBad: { seq: 6, id: recs[5]!.id, reason: 'missing' },
      });

      await store.db.deleteFrom('audit_log').where('seq', '=', 1).execute();
      assert.deepEqual(await log.verify(), {
        ok: false,
        checked: 0,
        firstBad: { seq: 2, id: recs[1]!.id, reason: 'missing' },
      });
    });

    test('two rows with swapped seq fail verify as reordered', async () => {
      const store = await fresh();
      const log = new AuditLog(store);
      const recs = await fill(log, 10);
      await store.db.updateTable('audit_log').set({ seq: -1 }).where('seq', '=', 4).execute();
      await store.db.updateTable('audit_log').set({ seq: 4 }).where('seq', '=', 5).execute();
      await store.db.updateTable('audit_log').set({ seq: 5 }).where('seq', '=', -1).execute();
      // seq 4 now holds the original fifth entry, whose link points at the entry now at seq 5.
      assert.deepEqual(await log.verify(), {
        ok: false,
        checked: 3,
        firstBad: { seq: 4, id: recs[4]!.id, reason: 'reordered' },
      });
    });

    test('1000 concurrent appends are group-committed into one valid chain', async (t) => {
      const log = new AuditLog(await fresh());
      const started = performance.now();
      const recs = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => log.append({ type: 'sql', actor: `a${i % 7}`, data: { i } })),
      );
      const ms = performance.now() - started;
      assert.deepEqual(
        recs.map((r) => r.seq),
        Array.from({ length: 1000 }, (_, i) => i + 1),
        'seq follows call order',
      );
      assert.deepEqual(
        recs.map((r) => r.data.i),
        Array.from({ length: 1000 }, (_, i) => i),
      );
      assert.deepEqual(log.commits, { batches: 1, entries: 1000 }, 'one commit for one tick of appends');
      assert.deepEqual(await log.verify(), { ok: true, checked: 1000 });

      // Sequential appends: each waits for its own commit.
      const seqStart = performance.now();
      await fill(log, 100);
      const seqMs = (performance.now() - seqStart) / 100;
      t.diagnostic(
        `${backend.name}: 1000 concurrent appends ${ms.toFixed(1)} ms (${((ms * 1e3) / recs.length).toFixed(1)} µs/append); sequential ${seqMs.toFixed(3)} ms/append`,
      );
      assert.deepEqual(log.commits, { batches: 101, entries: 1100 }, 'each sequential append is its own commit');
      assert.deepEqual(await log.verify(), { ok: true, checked: 1100 });
    });

    test('append rejects with WARDEN_AUDIT_WRITE_FAILED when the store cannot write', async () => {
      const store = await fresh();
      const log = new AuditLog(store);
      await log.append({ type: 'ok', data: {} });
      await store.db.schema.dropTable('audit_log').execute();
      const results = await Promise.allSettled([
        log.append({ type: 'a', data: {} }),
        log.append({ type: 'b', data: {} }),
      ]);
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.ok(isWardenError(r.status === 'rejected' ? r.reason : undefined, 'WARDEN_AUDIT_WRITE_FAILED'));
      }
      await assert.rejects(async () => log.append({ type: '', data: {} }), TypeError);
    });

    test('since finds exactly the entries at or after a time, across buckets and a clock that steps back', async () => {
      // No index on `at`: list({since}) starts from audit_log_times' bound. A clock that jumps
      // back (NTP) or forward, and batches that span buckets, must not hide an entry.
      const clock = new ManualClock();
      const log = new AuditLog(await fresh(), { clock });
      const t0 = clock.now();
      let seed = 7;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      for (let burst = 0; burst < 60; burst++) {
        // Several appends in one turn share a commit, the clock moving between them.
        const pending: Promise<AuditRecord>[] = [];
        const n = 1 + Math.floor(random() * 6);
        for (let i = 0; i < n; i++) {
          pending.push(log.append({ type: 'sql', data: { burst, i } }));
          const r = random();
          if (r < 0.15) clock.advance(-Math.floor(random() * 40_000));
          else clock.advance(Math.floor(random() * (r > 0.9 ? 90_000 : 4_000)));
        }
        await Promise.all(pending);
      }
      const all = await log.list({ limit: 1000 });
      assert.equal(all.length > 60, true);
      const times = [...new Set(all.map((r) => r.at))];
      for (const since of [t0 - 1, ...times, ...times.map((t) => t + 1), clock.now() + 3_600_000]) {
        const want = all.filter((r) => r.at >= since).map((r) => r.seq);
        const got = (await log.list({ since, limit: 1000 })).map((r) => r.seq);
        assert.deepEqual(got, want, `since ${since - t0} ms`);
      }
      assert.deepEqual(await log.verify(), { ok: true, checked: all.length });
    });

    test('exportJsonl writes every entry as one JSON line in order', async () => {
      const log = new AuditLog(await fresh());
      await fill(log, 1203);
      const chunks: string[] = [];
      const out = new Writable({
        highWaterMark: 1024,
        write(chunk, _enc, cb) {
          chunks.push(String(chunk));
          setImmediate(cb);
        },
      });
      const n = await log.exportJsonl(out);
      assert.equal(n, 1203);
      out.end();
      await finished(out);
      const lines = chunks
        .join('')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditRecord);
      assert.equal(lines.length, 1203);
      assert.deepEqual(
        lines.map((r) => r.seq),
        Array.from({ length: 1203 }, (_, i) => i + 1),
      );
      assert.equal(lines[1]!.prevHash, lines[0]!.hash);
      assert.deepEqual(lines[1202]!.data, { i: 1202, text: 'select 1202' });
    });

    if (backend.name === 'postgres') {
      test('two AuditLog instances on separate pools extend one chain', async () => {
        const url = await b.freshUrl();
        const { openStore } = await import('../../../src/store/index.js');
        const s1 = await openStore(url);
        const s2 = await openStore(url);
        stores.push(s1, s2);
        const log1 = new AuditLog(s1);
        const log2 = new AuditLog(s2);
        const appends: Promise<AuditRecord>[] = [];
        for (let round = 0; round < 20; round++) {
          for (let i = 0; i < 25; i++) {
            appends.push(log1.append({ type: 'sql', actor: 'gw1', data: { round, i } }));
            appends.push(log2.append({ type: 'sql', actor: 'gw2', data: { round, i } }));
          }
          await new Promise((r) => setImmediate(r));
        }
        const recs = await Promise.all(appends);
        assert.equal(new Set(recs.map((r) => r.seq)).size, 1000);
        assert.deepEqual(await log1.verify(), { ok: true, checked: 1000 });
        const actors = new Set((await log2.list({ limit: 1000 })).map((r) => r.actor));
        assert.deepEqual([...actors].sort(), ['gw1', 'gw2']);
      });
    }
  });
}
