// The SQLite audit writer thread (src/audit/writer.ts): one chain across connections and
// processes, fail closed when the thread cannot write, drained at close, and nothing
// acknowledged lost when the process is killed with SIGKILL.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AuditLog, type AuditRecord } from '../../../src/audit/index.js';
import { AuditWriter } from '../../../src/audit/writer.js';
import { isWardenError } from '../../../src/core/errors.js';
import { openStore, type Store } from '../../../src/store/index.js';

const CHILD = fileURLToPath(new URL('./append-child.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warden-audit-writer-'));
let n = 0;
const stores: Store[] = [];
const logs: AuditLog[] = [];
async function fresh(): Promise<{ url: string; store: Store }> {
  const url = `sqlite:${join(dir, `w-${n++}.db`)}`;
  const store = await openStore(url);
  stores.push(store);
  return { url, store };
}
function logOf(store: Store): AuditLog {
  const log = new AuditLog(store, { writerThread: true });
  logs.push(log);
  return log;
}

after(async () => {
  for (const l of logs) await l.close().catch(() => undefined);
  for (const s of stores) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function child(url: string, mode: 'flood' | 'one') {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, url, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const acks: { seq: number; id: string }[] = [];
  const lines = createInterface({ input: proc.stdout });
  const ready = new Promise<void>((resolve) =>
    lines.on('line', (l) => {
      if (l === 'ready') resolve();
      const m = /^ack (\d+) (\S+)$/.exec(l);
      if (m) acks.push({ seq: Number(m[1]), id: m[2]! });
    }),
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { proc, acks, ready, exited, stderr: () => stderr };
}

describe('audit writer thread (SQLite file store)', () => {
  test('two logs on one file (two threads, two connections) extend one chain', async () => {
    const { url, store } = await fresh();
    const other = await openStore(url);
    stores.push(other);
    const a = logOf(store);
    const b = logOf(other);
    const appends: Promise<AuditRecord>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 25; i++) {
        appends.push(a.append({ type: 'sql', actor: 'gw-a', data: { round, i } }));
        appends.push(b.append({ type: 'sql', actor: 'gw-b', data: { round, i } }));
      }
      await new Promise((r) => setImmediate(r));
    }
    const recs = await Promise.all(appends);
    assert.equal(new Set(recs.map((r) => r.seq)).size, 1000, 'every entry has its own seq');
    const verified = await a.verify();
    assert.equal(verified.ok, true);
    assert.equal(verified.checked, 1000);
    // Each log's own entries keep their append order.
    for (const actor of ['gw-a', 'gw-b']) {
      const mine = recs.filter((r) => r.actor === actor).map((r) => r.seq);
      assert.deepEqual(
        mine,
        [...mine].sort((x, y) => x - y),
        `${actor} entries in call order`,
      );
    }
    // What an append resolved with is what is stored.
    const stored = await a.list({ limit: 1000 });
    const bySeq = new Map(stored.map((r) => [r.seq, r]));
    for (const r of recs) assert.deepEqual(bySeq.get(r.seq), { ...r, data: r.data });
  });

  test('spaced appends (committed on the event loop) and bursts (the thread) keep one chain in call order', async () => {
    const { store } = await fresh();
    const log = logOf(store);
    const recs: AuditRecord[] = [];
    for (let round = 0; round < 8; round++) {
      // A few lone appends, turns apart: the low-rate path.
      for (let i = 0; i < 3; i++) {
        recs.push(await log.append({ type: 'lone', data: { round, i } }));
        await new Promise((r) => setTimeout(r, 2));
      }
      // A burst in one turn, and another while it is in flight: the thread.
      const burst = Array.from({ length: 30 }, (_, i) => log.append({ type: 'burst', data: { round, i } }));
      await new Promise((r) => setImmediate(r));
      burst.push(...Array.from({ length: 3 }, (_, i) => log.append({ type: 'burst', data: { round, i: 30 + i } })));
      recs.push(...(await Promise.all(burst)));
    }
    assert.deepEqual(
      recs.map((r) => r.seq),
      Array.from({ length: recs.length }, (_, i) => i + 1),
      'seq follows call order across both paths',
    );
    for (let i = 1; i < recs.length; i++) assert.equal(recs[i]!.prevHash, recs[i - 1]!.hash);
    const verified = await log.verify();
    assert.equal(verified.ok, true);
    assert.equal(verified.checked, recs.length);
    assert.equal(log.commits.entries, recs.length);
  });

  test('a thread that cannot open the database fails every pending entry, and a later append starts a new one', async () => {
    const path = join(dir, 'not-yet.db');
    let committed = 0;
    const writer = new AuditWriter(path, 1000, (k) => (committed += k));
    const pend = (i: number) =>
      new Promise<AuditRecord | undefined>((resolve, reject) =>
        writer.enqueue({
          row: { id: `au_${i}`, at: 1, type: 't', actor: null, session: null, connection: null, data: '{}' },
          record: true,
          resolve,
          reject,
        }),
      );
    const results = await Promise.allSettled([pend(1), pend(2), pend(3)]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(isWardenError(r.status === 'rejected' ? r.reason : undefined, 'WARDEN_AUDIT_WRITE_FAILED'));
    }
    assert.equal(committed, 0);
    await writer.flush();

    // The database exists now (migrated): the next entry goes through a fresh thread.
    const store = await openStore(`sqlite:${path}`);
    stores.push(store);
    const rec = await pend(4);
    assert.equal(rec?.seq, 1);
    assert.equal(committed, 1);
    await writer.close();
    assert.ok(existsSync(path));
  });

  test('close() drains every pending append, then appends start a new thread', async () => {
    const { store } = await fresh();
    const log = logOf(store);
    const pending = Array.from({ length: 500 }, (_, i) => log.append({ type: 'sql', data: { i } }));
    await log.close();
    const settled = await Promise.allSettled(pending);
    assert.ok(settled.every((s) => s.status === 'fulfilled'));
    assert.equal((await log.list({ limit: 1000 })).length, 500);
    const next = await log.append({ type: 'after-close', data: {} });
    assert.equal(next.seq, 501);
    assert.equal((await log.verify()).ok, true);
  });

  test('a pending append keeps the process alive until it is durable; an idle log lets it exit', async () => {
    const { url, store } = await fresh();
    const c = child(url, 'one');
    const { code } = await c.exited;
    assert.equal(code, 0, c.stderr());
    assert.equal(c.acks.length, 1, 'the append was acknowledged before the process exited');
    const rows = await logOf(store).list();
    assert.deepEqual(
      rows.map((r) => [r.seq, r.id, r.type]),
      [[c.acks[0]!.seq, c.acks[0]!.id, 'child.one']],
    );
  });

  test('SIGKILL under load loses nothing acknowledged, and the chain verifies', async () => {
    const { url, store } = await fresh();
    const c = child(url, 'flood');
    await c.ready;
    while (c.acks.length < 2000) await new Promise((r) => setTimeout(r, 20));
    c.proc.kill('SIGKILL');
    const { signal } = await c.exited;
    assert.equal(signal, 'SIGKILL');
    const log = logOf(store);
    const verified = await log.verify();
    assert.equal(verified.ok, true, JSON.stringify(verified));
    const stored = new Map((await log.list({ limit: 1_000_000 })).map((r) => [r.seq, r.id]));
    const missing = c.acks.filter((a) => stored.get(a.seq) !== a.id);
    assert.deepEqual(missing, [], 'every acknowledged entry is stored under the seq it was acknowledged with');
    assert.ok(stored.size >= c.acks.length);
    // The log goes on after the crash: the next entry links to the last one the dead process wrote.
    const next = await log.append({ type: 'after-crash', data: {} });
    assert.equal(next.seq, stored.size + 1);
    assert.equal((await log.verify()).checked, stored.size + 1);
  });
});
