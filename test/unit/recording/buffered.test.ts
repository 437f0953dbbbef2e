// Buffered recording writes (src/recording/recorder.ts): lines wait in a per-recording buffer
// flushed FLUSH_MS after its first line, at FLUSH_BYTES, and synchronously at end(). The same
// recording kept in the store (recordingStore: database) is one chunk row per flush and reads
// back, digests and masks exactly as the file does; a cut last line is tolerated in both.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Kysely, SqliteDialect, sql } from 'kysely';
import type { AuditEntry } from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { compileMasker } from '../../../src/masking/index.js';
import { ChunkWriter } from '../../../src/recording/chunk-writer.js';
import {
  FLUSH_BYTES,
  openRecording,
  type RecordedEvent,
  Recorder,
  readRecording,
  readRecordingBytes,
  readRecordingMasked,
  recordingName,
} from '../../../src/recording/index.js';
import { StoreSink } from '../../../src/recording/sinks.js';
import { type Database, openStore, type Store } from '../../../src/store/index.js';

let dir: string;
let store: Store;
const meta = {
  connection: 'shop',
  connectionType: 'postgres',
  issuer: 'https://idp.example',
  sub: 'agent-1',
  groups: ['agents'],
  format: 'jsonl' as const,
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-rec-buf-'));
  store = await openStore(`sqlite:${join(dir, 'store.db')}`);
});
after(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const fileText = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

async function chunkCount(session: string): Promise<number> {
  const r = await store.db
    .selectFrom('recording_chunks')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('session_id', '=', session)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** A JSON-lines recording's events (fails on a terminal one). */
async function jsonlEvents(path: string, db?: Store['db']): Promise<RecordedEvent[] & { truncated?: boolean }> {
  const rec = await readRecording(path, { db });
  assert.equal(rec.format, 'jsonl');
  return Object.assign(rec.format === 'jsonl' ? rec.events : [], { truncated: rec.truncated });
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`never happened: ${what}`);
}

test('file: events wait in the buffer during the turn, are written within the flush window, all of them at end()', async () => {
  const rec = new Recorder(join(dir, 'files'), store).start({ ...meta, session: 's_buf_file' });
  for (let i = 0; i < 100; i++) rec.event({ type: 'sql', effect: 'allow', text: `select ${i}` });
  // Nothing was written synchronously: no syscall per event.
  assert.equal(fileText(rec.path), '', 'buffered, not written per event');
  // The flush timer writes them without end().
  await until(() => fileText(rec.path).includes('select 99'), 'the timer flush');
  assert.equal(fileText(rec.path).trimEnd().split('\n').length, 101, 'session.start and 100 events');

  // A line that fills the buffer is written as soon as this turn's events are made into lines,
  // not at the flush timer.
  const big = 'x'.repeat(FLUSH_BYTES);
  rec.event({ type: 'sql', effect: 'allow', text: big });
  await new Promise((r) => setImmediate(r));
  assert.ok(fileText(rec.path).includes(big), 'a full buffer is flushed after the turn');

  rec.event({ type: 'sql', effect: 'allow', text: 'the last one' });
  await rec.end('done');
  const read = await jsonlEvents(rec.path);
  assert.equal(read.truncated, false);
  assert.deepEqual(
    read.slice(-2).map((e) => e.text ?? e.type),
    ['the last one', 'session.end'],
  );
});

test('events become lines after the turn, timed when they happened, in order with terminal output; an unrepresentable one is marked', async () => {
  const clock = new ManualClock();
  const rec = new Recorder(join(dir, 'later'), store, { clock }).start({ ...meta, session: 's_later' });
  clock.advance(1500);
  rec.event({ type: 'sql', effect: 'allow', text: 'first' });
  clock.advance(250);
  rec.event({ type: 'bad', effect: 'allow', n: 10n });
  const cyclic: Record<string, unknown> = { type: 'cyclic' };
  cyclic.self = { back: cyclic };
  rec.event(cyclic);
  rec.event({ type: 'sql', effect: 'allow', text: 'third' });
  clock.advance(5000);
  await rec.end('done');
  const events = await jsonlEvents(rec.path);
  assert.deepEqual(
    events.map((e) => [e.type, e.t, e.text ?? e.of ?? null]),
    [
      ['session.start', 0, null],
      ['sql', 1.5, 'first'],
      ['unrecordable', 1.75, 'bad'],
      ['unrecordable', 1.75, 'cyclic'],
      ['sql', 1.75, 'third'],
      ['session.end', 6.75, null],
    ],
  );
  assert.equal(events.at(-1)?.operations, 3, 'all three counted as operations');

  // asciicast: a marker recorded before some output stays before it in the file.
  const cast = new Recorder(join(dir, 'later'), store, { clock }).start({
    ...meta,
    session: 's_later_cast',
    format: 'asciicast',
  });
  cast.event({ type: 'command', effect: 'allow', text: 'ls' });
  cast.output('file-a\r\n');
  cast.event({ type: 'command', effect: 'block', text: 'rm -rf /' });
  cast.resize(100, 30);
  await cast.end('done');
  const lines = fileText(cast.path)
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => JSON.parse(l) as unknown[]);
  assert.deepEqual(
    lines.map((l) => l[1]),
    ['m', 'o', 'm', 'r'],
  );
  assert.match(String(lines[2]![2]), /rm -rf/);
});

test('database: one chunk row per flush, read back, digested and masked exactly as the file', async () => {
  const clock = new ManualClock();
  const audited: AuditEntry[] = [];
  const audit = { append: async (e: AuditEntry) => void audited.push(e) };
  const events = (n: number) => ({ type: 'sql', effect: 'allow', text: `select email from customers -- ${n}` });
  const fileRec = new Recorder(join(dir, 'same'), store, { clock }).start({ ...meta, session: 's_same' });
  const dbRec = new Recorder(join(dir, 'unused'), store, { clock, audit, recordingStore: 'database' }).start({
    ...meta,
    session: 's_buf_db',
  });
  assert.equal(dbRec.path, 'store:s_buf_db.jsonl');
  assert.equal(recordingName(dbRec.path), 's_buf_db.jsonl');
  for (const rec of [fileRec, dbRec]) for (let i = 0; i < 50; i++) rec.event(events(i));
  assert.equal(await chunkCount('s_buf_db'), 0, 'nothing stored during the turn');
  await dbRec.settle();
  assert.equal(await chunkCount('s_buf_db'), 1, 'the turn’s 51 lines are one chunk');
  await until(async () => (await readRecordingBytes(dbRec.path, { db: store.db })).includes('-- 49'), 'readable');

  // Written across turns: more chunks, still one recording.
  for (const rec of [fileRec, dbRec]) rec.event(events(50));
  await new Promise((r) => setTimeout(r, 20));
  for (const rec of [fileRec, dbRec]) rec.event({ ...events(51), email: 'ada@example.com' });
  clock.advance(1000);
  await fileRec.end('done');
  await dbRec.end('done');
  assert.ok((await chunkCount('s_buf_db')) >= 2, 'later turns are later chunks');

  const bytes = await readRecordingBytes(dbRec.path, { db: store.db });
  assert.equal(bytes.toString('utf8').replaceAll('s_buf_db', 's_same'), fileText(fileRec.path), 'the same bytes');
  const read = await jsonlEvents(dbRec.path, store.db);
  assert.equal(read.length, 54);
  assert.equal(read.at(-1)?.type, 'session.end');

  // The digest audited at close covers the bytes as stored.
  assert.equal(audited.length, 1);
  const data = audited[0]!.data as { sha256: string; bytes: number; file: string };
  assert.deepEqual(data, {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    file: 's_buf_db.jsonl',
  });
  assert.equal((await store.getSession('s_buf_db'))?.recordingPath, 'store:s_buf_db.jsonl');

  // The masked reader streams the chunks through the reader's plan.
  const masker = compileMasker({ columns: ['email'], detect: ['email'] });
  let masked = '';
  for await (const c of readRecordingMasked(dbRec.path, 'jsonl', masker, { db: store.db })) masked += String(c);
  assert.equal(masked.trimEnd().split('\n').length, 54);
  assert.ok(!masked.includes('ada@example.com'), masked);

  // Without the store a store recording cannot be read (never silently empty).
  await assert.rejects(readRecordingBytes(dbRec.path), /kept in the store/);
});

test('database: a last chunk cut inside its last line is tolerated, as a cut file is', async () => {
  const rec = new Recorder(join(dir, 'unused'), store, { recordingStore: 'database' }).start({
    ...meta,
    session: 's_buf_cut',
  });
  rec.event({ type: 'sql', effect: 'allow', text: 'select 1' });
  await rec.settle();
  rec.event({ type: 'sql', effect: 'allow', text: 'select 2' });
  await rec.end();
  // A crash mid-write: the last chunk loses its tail.
  await sql`update recording_chunks set data = substr(data, 1, length(data) - 10)
    where session_id = 's_buf_cut' and seq = (select max(seq) from recording_chunks where session_id = 's_buf_cut')`.execute(
    store.db,
  );
  const read = await jsonlEvents(rec.path, store.db);
  assert.equal(read.truncated, true);
  assert.deepEqual(
    read.map((e) => e.text ?? e.type),
    ['session.start', 'select 1', 'select 2'],
  );
  const stream = openRecording(rec.path, { db: store.db });
  let text = '';
  for await (const c of stream) text += String(c);
  assert.ok(!text.endsWith('\n'), 'the cut line is still there to be tolerated');
});

test('database: the chunks many recordings flush at the same moment are one INSERT', async () => {
  let inserts = 0;
  const counted = new Kysely<Database>({
    dialect: new SqliteDialect({ database: store.sqlite! }),
    log: (e) => {
      if (e.level === 'query' && /^insert into "recording_chunks"/.test(e.query.sql)) inserts++;
    },
  });
  const writer = new ChunkWriter(counted);
  const sinks = Array.from({ length: 20 }, (_, i) => new StoreSink(writer, `s_many_${i}`));
  for (const [i, sink] of sinks.entries()) sink.write(`{"t":0,"at":0,"n":${i}}\n`);
  await Promise.all(sinks.map((s) => s.settled()));
  assert.equal(inserts, 1, '20 recordings, one statement');
  for (const [i, sink] of sinks.entries()) sink.write(`{"t":1,"at":1,"n":${i}}\n`);
  await Promise.all(sinks.map((s) => s.close()));
  assert.equal(inserts, 2);
  const text = (await readRecordingBytes('store:s_many_7.jsonl', { db: store.db })).toString();
  assert.equal(text, '{"t":0,"at":0,"n":7}\n{"t":1,"at":1,"n":7}\n');
});

test('database: a failed chunk write is retried with the same seq; end() rejects only when the retry fails too', async () => {
  const written: { seq: number; text: string }[] = [];
  let failures = 1;
  const flaky = {
    write: async (_session: string, seq: number, data: Buffer) => {
      if (failures-- > 0) throw new Error('store unreachable');
      written.push({ seq, text: data.toString() });
    },
  } as unknown as ChunkWriter;
  const sink = new StoreSink(flaky, 's_flaky');
  sink.write('a\n');
  sink.write('b\n');
  await sink.settled();
  assert.deepEqual(
    written.sort((x, y) => x.seq - y.seq),
    [
      { seq: 0, text: 'a\n' },
      { seq: 1, text: 'b\n' },
    ],
    'the failed chunk kept its place',
  );
  failures = 2;
  sink.write('c\n');
  await assert.rejects(sink.close(), /store unreachable/);
});
