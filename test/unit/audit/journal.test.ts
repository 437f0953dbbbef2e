// The SQLite audit journal (src/audit/journal.ts, AuditLog.useJournal): entries durable once
// journaled, moved into audit_log in call order before any read in this process, nothing
// acknowledged lost when the process is killed (the next start moves its journal in), never an
// entry twice (two recoveries, a recovery racing the owner), a torn last line dropped, a damaged
// journal kept aside, files rotated and deleted once moved in.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { AuditLog } from '../../../src/audit/index.js';
import { journalFolder, parseLine } from '../../../src/audit/journal.js';
import { openStore, type Store } from '../../../src/store/index.js';

const CHILD = fileURLToPath(new URL('./append-child.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'warden-audit-journal-'));
let n = 0;
const stores: Store[] = [];
const logs: AuditLog[] = [];

async function fresh(): Promise<{ url: string; file: string; store: Store }> {
  const file = join(dir, `j-${n++}.db`);
  const url = `sqlite:${file}`;
  const store = await openStore(url);
  stores.push(store);
  return { url, file, store };
}
async function storeOf(url: string): Promise<Store> {
  const store = await openStore(url);
  stores.push(store);
  return store;
}
function logOf(store: Store): AuditLog {
  const log = new AuditLog(store);
  logs.push(log);
  return log;
}
/** Rows in audit_log, read through the store's own connection (no journal involved). */
function tableRows(store: Store): { seq: number; type: string; data: string }[] {
  return store.sqlite!.prepare('select seq, type, data from audit_log order by seq').all() as {
    seq: number;
    type: string;
    data: string;
  }[];
}
function journals(file: string): string[] {
  return existsSync(journalFolder(file)) ? readdirSync(journalFolder(file)).sort() : [];
}

/** A child appending through a journal of `instance` until killed; its acknowledged `i`s. */
function journalChild(url: string, instance: string) {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, url, 'journal', instance], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked: number[] = [];
  createInterface({ input: proc.stdout }).on('line', (l) => {
    const m = /^ack 0 (\d+)$/.exec(l);
    if (m) acked.push(Number(m[1]));
  });
  const exited = new Promise<NodeJS.Signals | null>((r) => proc.once('close', (_c, s) => r(s)));
  return {
    acked,
    async killAfter(count: number): Promise<NodeJS.Signals | null> {
      while (acked.length < count) await new Promise((r) => setTimeout(r, 20));
      proc.kill('SIGKILL');
      return exited;
    },
  };
}
/** The `i`s stored for entries of `type`, in seq order. */
function storedIs(store: Store, type: string): number[] {
  return tableRows(store)
    .filter((r) => r.type === type)
    .map((r) => (JSON.parse(r.data) as { i: number }).i);
}

after(async () => {
  for (const l of logs) await l.close().catch(() => undefined);
  for (const s of stores) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('audit journal (SQLite file store)', () => {
  test('durable appends reach audit_log in call order, with records where asked, before a read here', async () => {
    const { file, store } = await fresh();
    const log = logOf(store);
    assert.deepEqual(log.useJournal('inst-a', 'all'), { journals: 0, entries: 0, corrupt: [] });
    const durable = [0, 1, 2].map((i) => log.appendDurable({ type: 'op', data: { i } }));
    for (const d of durable) assert.equal(await d, undefined);
    // Acknowledged from the journal: not in the table yet (the next ingest is INGEST_MS away).
    assert.equal(tableRows(store).length, 0);
    assert.equal(journals(file).length, 1);
    // An append that wants its record moves in everything before it, and keeps call order.
    const rec = await log.append({ type: 'with-record', data: { i: 3 } });
    assert.equal(rec.seq, 4);
    assert.deepEqual(rec.data, { i: 3 });
    void log.appendDurable({ type: 'op', data: { i: 4 } });
    const listed = await log.list();
    assert.deepEqual(
      listed.map((r) => [r.seq, r.type, r.data.i]),
      [
        [1, 'op', 0],
        [2, 'op', 1],
        [3, 'op', 2],
        [4, 'with-record', 3],
        [5, 'op', 4],
      ],
    );
    const v = await log.verify();
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.equal(v.checked, 5);
    assert.equal(log.commits.entries, 5);
    // close() moves in what is left and deletes the journal and its progress row.
    void log.appendDurable({ type: 'op', data: { i: 5 } });
    await log.close();
    assert.equal(tableRows(store).length, 6);
    assert.deepEqual(journals(file), []);
    assert.equal((store.sqlite!.prepare('select count(*) as n from audit_journals').get() as { n: number }).n, 0);
  });

  test('the timer moves entries in without a reader', async () => {
    const { store } = await fresh();
    const log = logOf(store);
    log.useJournal('inst-t', 'all');
    await log.appendDurable({ type: 'op', data: {} });
    for (let i = 0; i < 200 && tableRows(store).length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(tableRows(store).length, 1);
  });

  test('SIGKILL under load: the next start moves the journal in; nothing acknowledged is missing', async () => {
    const { url, file } = await fresh();
    const child = journalChild(url, 'dead-1');
    assert.equal(await child.killAfter(3000), 'SIGKILL');
    assert.deepEqual(journals(file), ['dead-1.1.jsonl']);

    const store = await storeOf(url);
    const before = tableRows(store).length;
    const log = logOf(store);
    const recovered = log.useJournal('next-1', 'all')!;
    assert.equal(recovered.journals, 1);
    // What the child's own moves had not taken yet (usually some; none if a move had just run).
    assert.equal(tableRows(store).length, before + recovered.entries);
    const stored = storedIs(store, 'child.dead-1');
    assert.equal(new Set(stored).size, stored.length, 'no entry twice');
    const missing = child.acked.filter((i) => !stored.includes(i));
    assert.deepEqual(missing, [], 'every acknowledged entry is stored');
    const v = await log.verify();
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.deepEqual(journals(file), ['next-1.1.jsonl'], 'the dead journal is deleted once moved in');
    // The chain goes on from the recovered entries.
    const next = await log.append({ type: 'after-crash', data: {} });
    assert.equal(next.seq, stored.length + 1);
  });

  test('a restarted worker recovers only its predecessor; a first start recovers the rest', async () => {
    const { url, file, store } = await fresh();
    const pred = journalChild(url, 'pred');
    const other = journalChild(url, 'other');
    await Promise.all([pred.killAfter(500), other.killAfter(500)]);
    assert.deepEqual(journals(file), ['other.1.jsonl', 'pred.1.jsonl']);
    const worker = logOf(store);
    assert.equal(worker.useJournal('succ', ['pred'])?.journals, 1);
    assert.deepEqual(journals(file), ['other.1.jsonl', 'succ.1.jsonl']);
    const preds = storedIs(store, 'child.pred');
    assert.deepEqual(
      pred.acked.filter((i) => !preds.includes(i)),
      [],
    );
    const first = logOf(await storeOf(url));
    assert.equal(first.useJournal('first', 'all')?.journals, 2); // other's, and succ's (not running here)
    const others = storedIs(store, 'child.other');
    assert.deepEqual(
      other.acked.filter((i) => !others.includes(i)),
      [],
    );
    assert.equal(new Set([...preds, ...others.map((i) => -1 - i)]).size, preds.length + others.length);
    assert.equal((await first.verify()).ok, true);
  });

  test('two recoveries of one journal, and its owner after a recovery, never insert an entry twice', async () => {
    const { url, file, store } = await fresh();
    const owner = logOf(await storeOf(url));
    owner.useJournal('owner', []);
    for (let i = 0; i < 10; i++) void owner.appendDurable({ type: 'op', data: { i } });
    await new Promise((r) => setImmediate(r));
    // Another process takes the live journal for an orphan (two gateways on one SQLite file).
    const a = new AuditLog(await storeOf(url));
    assert.equal(a.useJournal('a', 'all')?.entries, 10);
    const b = new AuditLog(await storeOf(url));
    assert.equal(b.useJournal('b', 'all')?.entries, 0); // a's journal, empty; owner's is gone
    // The owner's next move finds its bytes already in audit_log and skips them.
    for (let i = 10; i < 12; i++) void owner.appendDurable({ type: 'op', data: { i } });
    await owner.flush();
    const is = tableRows(store).map((r) => (JSON.parse(r.data) as { i: number }).i);
    assert.deepEqual(is, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.equal((await owner.verify()).ok, true);
    // Taken for an orphan, the live journal was deleted: the owner's later entries reach audit_log
    // from its memory, but would not survive its crash (one gateway per SQLite file).
    assert.ok(!journals(file).includes('owner.1.jsonl'));
    await a.close();
    await b.close();
  });

  test('a torn last line is dropped; a damaged line keeps the journal aside after the entries before it', async () => {
    const { url, file, store } = await fresh();
    const folder = journalFolder(file);
    const l = new AuditLog(await storeOf(url));
    l.useJournal('torn', []);
    for (let i = 0; i < 3; i++) void l.appendDurable({ type: 'op', data: { i } });
    await new Promise((r) => setImmediate(r));
    const torn = join(folder, 'torn.1.jsonl');
    appendFileSync(torn, '["au_x",1,"op",null,null,null,{"i":'); // a write cut by a power loss
    writeFileSync(join(folder, 'bad.1.jsonl'), `${readFileSync(torn, 'utf8').split('\n')[0]}\nnot json\n${'x'}\n`);
    const log = logOf(store);
    const r = log.useJournal('after', 'all')!;
    assert.equal(r.journals, 2);
    assert.equal(r.entries, 4); // torn: 3 whole lines; bad: 1 before the damage
    assert.deepEqual(r.corrupt, ['bad.1.jsonl']);
    assert.deepEqual(journals(file), ['after.1.jsonl', 'bad.1.jsonl.corrupt']);
    assert.equal(tableRows(store).length, 4);
    assert.equal((await log.verify()).ok, true);
  });

  test('a journal is replaced once 8 MB of it are in audit_log', async () => {
    const { file, store } = await fresh();
    const log = logOf(store);
    log.useJournal('big', 'all');
    const blob = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 140; i++) void log.appendDurable({ type: 'op', data: { i, blob } });
    await log.flush();
    assert.deepEqual(journals(file), ['big.2.jsonl']);
    await log.appendDurable({ type: 'op', data: { i: 140 } });
    assert.equal((await log.verify()).checked, 141);
  });

  test('audit_log refusing writes: journaled entries wait and land later; a record is refused; close keeps the file', async () => {
    const { url, file, store } = await fresh();
    const log = new AuditLog(store);
    const errors: unknown[] = [];
    log.useJournal('refused', 'all', (e) => errors.push(e));
    store.sqlite!.exec(`create trigger refuse before insert on audit_log begin select raise(abort, 'refused'); end`);
    await log.appendDurable({ type: 'op', data: { i: 0 } });
    await assert.rejects(log.append({ type: 'with-record', data: { i: 1 } }), /WARDEN_AUDIT_WRITE_FAILED|audit/i);
    assert.ok(errors.length > 0);
    assert.equal(tableRows(store).length, 0);
    // The store takes writes again: the timer's next try moves both in, in call order.
    store.sqlite!.exec('drop trigger refuse');
    for (let i = 0; i < 200 && tableRows(store).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      tableRows(store).map((r) => r.type),
      ['op', 'with-record'],
    );
    // Refused again at close: the journal stays for the next start, which moves it in.
    store.sqlite!.exec(`create trigger refuse before insert on audit_log begin select raise(abort, 'refused'); end`);
    void log.appendDurable({ type: 'op', data: { i: 2 } });
    await log.close();
    assert.deepEqual(journals(file), ['refused.1.jsonl']);
    store.sqlite!.exec('drop trigger refuse');
    const next = logOf(await storeOf(url));
    assert.equal(next.useJournal('after-refused', 'all')?.entries, 1);
    assert.equal(tableRows(store).length, 3);
    assert.equal((await next.verify()).ok, true);
  });

  test('a journal of several MB is recovered in chunks: lines across chunk ends, multi-byte text, resumed mid-file', async () => {
    const { url, file, store } = await fresh();
    const log = new AuditLog(store);
    log.useJournal('grown', 'all', () => undefined);
    // The first 10 land; then audit_log refuses, and the journal grows past several read chunks.
    for (let i = 0; i < 10; i++) await log.appendDurable({ type: 'op', data: { i, text: 'é' } });
    await log.flush();
    store.sqlite!.exec(`create trigger refuse before insert on audit_log begin select raise(abort, 'refused'); end`);
    // 3-byte characters in lines of odd lengths, so chunk ends fall inside lines and characters.
    const wide = '€'.repeat(7001);
    for (let i = 10; i < 400; i++)
      void log.appendDurable({ type: 'op', data: { i, wide: wide.slice(0, 7001 - (i % 97)) } });
    await log.close();
    assert.deepEqual(journals(file), ['grown.1.jsonl']);
    assert.ok(statSync(join(journalFolder(file), 'grown.1.jsonl')).size > 3 * 1024 * 1024);
    store.sqlite!.exec('drop trigger refuse');
    const next = logOf(await storeOf(url));
    assert.equal(next.useJournal('after-grown', 'all')?.entries, 390);
    assert.deepEqual(
      storedIs(store, 'op'),
      Array.from({ length: 400 }, (_, i) => i),
    );
    const last = JSON.parse(tableRows(store).at(-1)!.data) as { wide: string };
    assert.equal(last.wide, wide.slice(0, 7001 - (399 % 97)));
    assert.equal((await next.verify()).ok, true);
  });

  test('journal lines: parseLine gives back the fields and the data text exactly as written', () => {
    const text = fc.string({ unit: 'grapheme' });
    fc.assert(
      fc.property(
        text,
        fc.integer({ min: 0, max: 2 ** 48 }),
        text,
        fc.option(text),
        fc.option(text),
        fc.option(text),
        fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean())),
        (id, at, type, actor, session, connection, data) => {
          const dataText = JSON.stringify(data);
          const line = `${JSON.stringify([id, at, type, actor, session, connection]).slice(0, -1)},${dataText}]`;
          assert.deepEqual(parseLine(line), [id, at, type, actor, session, connection, dataText]);
        },
      ),
      { numRuns: 2000 },
    );
    for (const bad of ['', '[]', '[1,2,3,4,5,6,7]', '["a",1,"t",null,null,null,[1]]', '["a",1,"t",null,null,null,{}'])
      assert.equal(parseLine(bad), undefined, bad);
  });
});
