import assert from 'node:assert/strict';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../../src/core/clock.js';
import { isWardenError } from '../../../src/core/errors.js';
import {
  formatTimeline,
  type RecordedEvent,
  Recorder,
  readRecording,
  replayAsciicast,
} from '../../../src/recording/index.js';
import { openStore, type Store } from '../../../src/store/index.js';

async function readJsonl(path: string): Promise<{ events: RecordedEvent[]; truncated: boolean }> {
  const rec = await readRecording(path);
  assert.equal(rec.format, 'jsonl');
  return rec.format === 'jsonl' ? rec : { events: [], truncated: false };
}

let dir: string;
let store: Store;
const meta = {
  connection: 'shop',
  connectionType: 'postgres',
  issuer: 'https://idp.example',
  sub: 'agent-1',
  groups: ['agents'],
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-rec-'));
  store = await openStore(`sqlite:${join(dir, 'store.db')}`);
});
after(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('jsonl: one JSON line per event with t and at; session row created and ended', async () => {
  const clock = new ManualClock();
  const t0 = clock.now();
  const rec = new Recorder(join(dir, 'recs'), store, { clock }).start({ ...meta, session: 's_json1', format: 'jsonl' });
  await rec.ready;
  assert.equal((await store.getSession('s_json1'))?.endedAt, null);
  clock.advance(412);
  rec.event({
    type: 'sql',
    effect: 'allow',
    text: 'select * from customers\n where id = 7',
    rowCount: 1,
    password: 'x',
  });
  clock.advance(1088);
  rec.event({ type: 'sql', effect: 'block', text: 'drop table customers', rules: ['no-ddl'], t: 99 });
  clock.advance(500);
  rec.event({
    type: 'sql',
    effect: 'mask',
    text: 'select email from customers',
    rows: [['a***@x.com'], ['b***@y.com']],
  });
  clock.advance(1000);
  await rec.end('client closed');
  rec.event({ type: 'late', effect: 'allow' });
  await rec.end('twice');

  assert.equal(rec.path, join(dir, 'recs', 's_json1.jsonl'));
  assert.equal(statSync(rec.path).mode & 0o777, 0o600);
  const lines = readFileSync(rec.path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as RecordedEvent);
  assert.deepEqual(
    lines.map((l) => [l.t, l.at, l.type]),
    [
      [0, t0, 'session.start'],
      [0.412, t0 + 412, 'sql'],
      [1.5, t0 + 1500, 'sql'],
      [2, t0 + 2000, 'sql'],
      [3, t0 + 3000, 'session.end'],
    ],
  );
  assert.equal(lines[1]!.password, undefined, 'secret-named keys never reach the file');
  assert.deepEqual(lines[4], { t: 3, at: t0 + 3000, type: 'session.end', reason: 'client closed', operations: 3 });

  const session = await store.getSession('s_json1');
  assert.deepEqual(session, {
    id: 's_json1',
    ...meta,
    startedAt: t0,
    endedAt: t0 + 3000,
    format: 'jsonl',
    recordingPath: rec.path,
    operations: 3,
    endReason: 'client closed',
  });

  const read = await readRecording(rec.path);
  assert.equal(read.format, 'jsonl');
  assert.equal(read.truncated, false);
  assert.deepEqual(read.events, lines);

  const timeline = formatTimeline(read.format === 'jsonl' ? read.events : []);
  const tl = timeline.trimEnd().split('\n');
  assert.equal(tl.length, 5);
  assert.match(
    tl[0]!,
    /^\+0\.000s {2}session s_json1 started: agent-1 \(agents\) on shop at 2026-01-01T00:00:00\.000Z$/,
  );
  assert.equal(tl[1], '+0.412s  ALLOW    select * from customers where id = 7  (1 row)');
  assert.equal(tl[2], '+1.500s  BLOCK    drop table customers  [rules: no-ddl]');
  assert.equal(tl[3], '+2.000s  MASK     select email from customers  (2 rows)');
  assert.equal(tl[4], '+3.000s  session ended: client closed (3 operations)');
});

test('asciicast: v2 header then [t, code, data] events', async () => {
  const clock = new ManualClock();
  const rec = new Recorder(join(dir, 'recs'), store, { clock }).start({
    ...meta,
    connectionType: 'ssh',
    session: 's_cast1',
    format: 'asciicast',
    width: 120,
    height: 40,
  });
  rec.output('$ ');
  clock.advance(250);
  rec.input('ls\r');
  rec.countOperation();
  clock.advance(10);
  rec.output('a.txt  b.txt\r\n');
  clock.advance(1000);
  rec.resize(100, 30);
  rec.event({ type: 'command', effect: 'allow', text: 'ls' });
  await rec.end('exit 0');

  assert.equal(rec.path, join(dir, 'recs', 's_cast1.cast'));
  const lines = readFileSync(rec.path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  const header = lines[0];
  assert.equal(header.version, 2);
  assert.equal(header.width, 120);
  assert.equal(header.height, 40);
  assert.equal(header.timestamp, Math.floor(Date.UTC(2026, 0, 1) / 1000));
  assert.deepEqual(lines.slice(1, 5), [
    [0, 'o', '$ '],
    [0.25, 'i', 'ls\r'],
    [0.26, 'o', 'a.txt  b.txt\r\n'],
    [1.26, 'r', '100x30'],
  ]);
  assert.equal(lines[5][1], 'm');
  assert.deepEqual(JSON.parse(lines[5][2]), { type: 'command', effect: 'allow', text: 'ls' });

  const read = await readRecording(rec.path);
  assert.equal(read.format, 'asciicast');
  assert.equal(read.events.length, 5);
  const s = await store.getSession('s_cast1');
  assert.equal(s?.format, 'asciicast');
  assert.equal(s?.operations, 2);
  assert.equal(s?.endReason, 'exit 0');
});

test('a truncated last line is tolerated; corruption elsewhere is an error', async () => {
  const clock = new ManualClock();
  const rec = new Recorder(join(dir, 'recs'), store, { clock }).start({ ...meta, session: 's_trunc', format: 'jsonl' });
  rec.event({ type: 'sql', effect: 'allow', text: 'select 1' });
  rec.event({ type: 'sql', effect: 'allow', text: 'select 2' });
  await rec.end();
  // Simulate a crash mid-write: cut the file inside the last line.
  const size = statSync(rec.path).size;
  truncateSync(rec.path, size - 10);
  const read = await readJsonl(rec.path);
  assert.equal(read.truncated, true);
  assert.deepEqual(
    read.events.map((e) => e.text ?? e.type),
    ['session.start', 'select 1', 'select 2'],
  );

  const cast = join(dir, 'cut.cast');
  writeFileSync(cast, `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n[0.1,"o","hi"]\n[0.2,"o","th`);
  const c = await readRecording(cast);
  assert.equal(c.truncated, true);
  assert.deepEqual(c.events, [[0.1, 'o', 'hi']]);

  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"t":0,"at":1}\n{"t":0.1,"at\n{"t":0.2,"at":3}\n');
  await assert.rejects(
    readRecording(bad),
    (e) => isWardenError(e, 'WARDEN_USAGE') && /line 2/.test((e as Error).message),
  );
});

test('replay at speed 100 writes the output in order and honours the speed', async () => {
  const clock = new ManualClock();
  const rec = new Recorder(join(dir, 'recs'), store, { clock }).start({
    ...meta,
    session: 's_replay',
    format: 'asciicast',
  });
  const outputs = ['one\r\n', 'two\r\n', 'three\r\n', 'four\r\n'];
  for (const o of outputs) {
    rec.output(o);
    rec.input('x');
    clock.advance(1000);
  }
  await rec.end();

  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  let started = performance.now();
  await replayAsciicast(rec.path, sink, { speed: 100 });
  const elapsed = performance.now() - started;
  assert.deepEqual(chunks, outputs, 'only output, in recorded order');
  // 3 s of recorded gaps at 100x is 30 ms.
  assert.ok(elapsed >= 28, `played too fast: ${elapsed} ms`);
  assert.ok(elapsed < 1500, `played too slow: ${elapsed} ms`);

  chunks.length = 0;
  started = performance.now();
  await replayAsciicast(rec.path, sink, { speed: 100, maxIdle: 0.1 });
  assert.deepEqual(chunks, outputs);
  assert.ok(performance.now() - started < 28 + 500, 'maxIdle shortens pauses');

  await assert.rejects(replayAsciicast(rec.path, sink, { speed: 0 }), TypeError);
  const jsonl = join(dir, 'recs', 's_json1.jsonl');
  await assert.rejects(replayAsciicast(jsonl, sink), (e) => isWardenError(e, 'WARDEN_USAGE'));
});

test('unsafe session ids are refused', () => {
  const r = new Recorder(join(dir, 'recs'), store);
  assert.throws(() => r.start({ ...meta, session: '../etc/passwd', format: 'jsonl' }), TypeError);
  assert.throws(() => r.start({ ...meta, session: '', format: 'jsonl' }), TypeError);
});

test('appending to an existing recording file keeps earlier lines', async () => {
  mkdirSync(join(dir, 'recs'), { recursive: true });
  const path = join(dir, 'recs', 's_reuse.jsonl');
  appendFileSync(path, '{"t":0,"at":0,"type":"earlier"}\n');
  const rec = new Recorder(join(dir, 'recs'), store).start({ ...meta, session: 's_reuse', format: 'jsonl' });
  await rec.end();
  const read = await readJsonl(path);
  assert.equal(read.events[0]!.type, 'earlier');
  assert.equal(read.events.at(-1)?.type, 'session.end');
});

test('deferred: no file or row until begin(); times count from the start; begin once', async () => {
  const clock = new ManualClock();
  const recs = join(dir, 'recs-deferred');
  const rec = new Recorder(recs, store, { clock }).start({ ...meta, session: 's_defer1', format: 'deferred' });
  assert.equal(rec.format, 'deferred');
  assert.equal(await store.getSession('s_defer1'), undefined, 'no row before begin');
  clock.advance(2000);
  rec.begin('asciicast', { width: 100, height: 30 });
  rec.begin('jsonl');
  assert.equal(rec.format, 'asciicast', 'the first begin counts');
  await rec.ready;
  assert.equal((await store.getSession('s_defer1'))?.format, 'asciicast');
  rec.output('hello\r\n');
  await rec.end('closed');
  const read = await readRecording(rec.path);
  assert.equal(read.format, 'asciicast');
  if (read.format !== 'asciicast') return;
  assert.equal(read.header.width, 100);
  assert.deepEqual(read.events[0]?.slice(1), ['o', 'hello\r\n']);
  assert.equal(read.events[0]?.[0], 2, 'offset from when the session opened');
});

test('deferred: a session that ends before begin still gets its row and a JSON-lines start and end', async () => {
  const rec = new Recorder(join(dir, 'recs-deferred'), store).start({
    ...meta,
    session: 's_defer2',
    format: 'deferred',
  });
  await rec.end('client closed');
  const row = await store.getSession('s_defer2');
  assert.equal(row?.format, 'jsonl');
  assert.equal(row?.endReason, 'client closed');
  const { events } = await readJsonl(rec.path);
  assert.deepEqual(
    events.map((e) => e.type),
    ['session.start', 'session.end'],
  );
});
