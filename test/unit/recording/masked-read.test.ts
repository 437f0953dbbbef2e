// Recordings read through the reader's masking plan (src/recording/masked-read.ts): every text
// value of every event is masked again, line by line, for readers whose plan is active.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compileMasker } from '../../../src/masking/index.js';
import { maskRecordingText, readRecordingMasked } from '../../../src/recording/index.js';

const plan = {
  columns: ['email', 'phone', 'ssn', 'public.customers.card_number'],
  detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'] as const,
};
const masker = compileMasker({ columns: [...plan.columns], detect: [...plan.detect] });
const CLEAR = [
  'ada@example.com',
  '123-45-6789',
  '4111 1111 1111 1111',
  '4111111111111111',
  '+1 415 555 0132',
  'alan@example.org',
  'ghp_0123456789abcdefghijklmnopqrstuvwxyz',
];
const dir = mkdtempSync(join(tmpdir(), 'warden-masked-read-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function jsonl(events: object[]): string {
  return events.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

function assertClean(text: string): void {
  for (const v of CLEAR) assert.ok(!text.includes(v), `found ${v} in:\n${text}`);
}

const DBA_SESSION = jsonl([
  {
    t: 0,
    at: 1,
    type: 'session.start',
    session: 's_1',
    connection: 'shop',
    connectionType: 'postgres',
    sub: 'dba-1',
    groups: ['dba'],
  },
  {
    t: 0.1,
    at: 2,
    type: 'operation',
    op: 'op_1',
    kind: 'sql',
    text: "SELECT name, notes FROM customers WHERE name = 'Ada'",
    effect: 'allow',
    rules: [],
  },
  {
    t: 0.2,
    at: 3,
    type: 'result',
    op: 'op_1',
    command: 'SELECT 1',
    columns: ['name', 'notes'],
    rows: [['Ada Lovelace', 'reach her at ada@example.com or +1 415 555 0132']],
    rowCount: 1,
  },
  {
    t: 0.3,
    at: 4,
    type: 'operation',
    op: 'op_2',
    kind: 'sql',
    text: "SELECT email AS contact, card_number AS c, ssn FROM customers WHERE email = 'alan@example.org'",
    effect: 'allow',
    rules: [],
  },
  {
    t: 0.4,
    at: 5,
    type: 'result',
    op: 'op_2',
    command: 'SELECT 1',
    columns: ['contact', 'c', 'ssn'],
    rows: [['x-y-z', 4111111111111111, '123-45-6789']],
    rowCount: 1,
  },
  {
    t: 0.5,
    at: 6,
    type: 'operation',
    op: 'op_3',
    kind: 'sql',
    text: 'SELECT * FROM customers',
    effect: 'allow',
    rules: [],
  },
  {
    t: 0.6,
    at: 7,
    type: 'result',
    op: 'op_3',
    command: 'SELECT 1',
    columns: ['id', 'name', 'email', 'card_number'],
    rows: [[1, 'Ada Lovelace', 'opaque-value', 'plain']],
    rowCount: 1,
  },
  { t: 0.7, at: 8, type: 'result', op: 'op_unknown', columns: ['name'], rows: [['Grace Hopper']] },
  { t: 0.8, at: 9, type: 'result', op: 'op_1', error: 'duplicate key value (email)=(ada@example.com)' },
  {
    t: 0.9,
    at: 10,
    type: 'operation',
    op: 'op_4',
    kind: 'sql',
    text: 'SELECT row_to_json(c) FROM customers c',
    effect: 'allow',
    rules: [],
  },
  {
    t: 1.0,
    at: 11,
    type: 'result',
    op: 'op_4',
    columns: ['row_to_json'],
    rows: [['{"id":1,"email":"ada@example.com","note":"key ghp_0123456789abcdefghijklmnopqrstuvwxyz"}']],
  },
  { t: 1.1, at: 12, type: 'session.end', reason: null, operations: 4 },
]);

test('jsonl: every text value is masked for the reader; gateway metadata is kept', async () => {
  const out = await maskRecordingText(DBA_SESSION, 'jsonl', masker);
  assertClean(out);
  const events = out
    .trimEnd()
    .split('\n')
    // biome-ignore lint/suspicious/noExplicitAny: events are checked field by field
    .map((l) => JSON.parse(l) as Record<string, any>);
  assert.equal(events.length, 12);
  assert.deepEqual(events[0]!, JSON.parse(DBA_SESSION.split('\n')[0] as string), 'session.start untouched');
  // Statement text under the detectors.
  assert.match(events[3]!.text, /WHERE email = 'a\*\*\*@example\.org'/);
  // Detected values inside an unmasked column; the rest of the row is kept.
  assert.equal(events[2]!.rows[0][0], 'Ada Lovelace');
  assert.match(events[2]!.rows[0][1], /^reach her at a\*\*\*@example\.com or /);
  // The statement names masked columns behind aliases: every cell of its result is redacted.
  assert.deepEqual(events[4]!.rows[0], ['***', null, '***-**-6789']);
  // Columns masked by name (a qualified config name covers the bare column name), others detected.
  assert.deepEqual(events[6]!.rows[0], [1, 'Ada Lovelace', '***', '***']);
  // A result whose statement is unknown: redacted whole.
  assert.deepEqual(events[7]!.rows[0], ['***']);
  assert.match(events[8]!.error, /a\*\*\*@example\.com/);
  const json = JSON.parse(events[10]!.rows[0][0]);
  assert.equal(json.id, 1);
  assert.notEqual(json.email, 'ada@example.com');
  assert.match(json.note, /REDACTED/);
  assert.deepEqual([events[11]!.type, events[11]!.operations], ['session.end', 4]);
});

test('a reader whose plan is inactive gets the recording as stored; an active plan streams from a file', async () => {
  const path = join(dir, 's_1.jsonl');
  writeFileSync(path, DBA_SESSION);
  let clear = '';
  for await (const c of readRecordingMasked(path, 'jsonl', compileMasker(null))) clear += String(c);
  assert.equal(clear, DBA_SESSION);
  let masked = '';
  for await (const c of readRecordingMasked(path, 'jsonl', masker)) masked += String(c);
  assertClean(masked);
  assert.equal(masked, await maskRecordingText(DBA_SESSION, 'jsonl', masker));
});

test('large recordings stream in small chunks, lines split across chunks', async () => {
  const lines: object[] = [];
  for (let i = 0; i < 20_000; i++) {
    lines.push({
      t: i,
      at: i,
      type: 'operation',
      op: `op_${i}`,
      kind: 'sql',
      text: `SELECT notes FROM customers WHERE id = ${i}`,
      effect: 'allow',
      rules: [],
    });
    lines.push({
      t: i,
      at: i,
      type: 'result',
      op: `op_${i}`,
      columns: ['notes'],
      rows: [[`mail user${i}@example.com`]],
    });
  }
  const path = join(dir, 'big.jsonl');
  writeFileSync(path, jsonl(lines));
  const { createReadStream } = await import('node:fs');
  const { RecordingMasker } = await import('../../../src/recording/index.js');
  let n = 0;
  let leaked = 0;
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    createReadStream(path, { highWaterMark: 333 })
      .pipe(new RecordingMasker(masker, 'jsonl'))
      .on('data', (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split('\n');
        buf = parts.pop() as string;
        for (const l of parts) {
          n++;
          if (/user\d+@example\.com/.test(l)) leaked++;
        }
      })
      .on('end', resolve)
      .on('error', reject);
  });
  assert.equal(n, 40_000);
  assert.equal(leaked, 0);
});

test('asciicast: output split across events is masked whole; markers masked; header kept; cut last line dropped', async () => {
  const header = { version: 2, width: 80, height: 24, title: 'ops@box', warden: { session: 's_2', sub: 'ops' } };
  const text = [
    JSON.stringify(header),
    JSON.stringify([0.1, 'i', 'cat customers.csv\r']),
    JSON.stringify([0.2, 'o', 'ada,ada@exa']),
    JSON.stringify([0.3, 'o', 'mple.com,4111 1111 ']),
    JSON.stringify([0.4, 'o', '1111 1111\r\n$ ']),
    JSON.stringify([0.5, 'r', '100x40']),
    JSON.stringify([
      0.6,
      'm',
      JSON.stringify({ type: 'operation', op: 'op_1', kind: 'command', text: 'echo 123-45-6789', effect: 'allow' }),
    ]),
    '[0.7, "o", "alan@example.o',
  ].join('\n');
  const out = await maskRecordingText(text, 'asciicast', masker);
  assertClean(out);
  const lines = out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], header);
  const output = lines
    .filter((l) => Array.isArray(l) && l[1] === 'o')
    .map((l) => l[2])
    .join('');
  assert.match(output, /ada,a\*\*\*@example\.com,\*{4} \*{4} \*{4} 1111\r\n\$ /);
  assert.ok(lines.some((l) => Array.isArray(l) && l[1] === 'r' && l[2] === '100x40'));
  const marker = lines.find((l) => Array.isArray(l) && l[1] === 'm');
  assert.equal(JSON.parse(marker[2]).text, 'echo ***-**-6789');
  assert.ok(!out.includes('alan'), 'a cut last line is dropped');
});

test('jsonl output events: a value split across two events is masked whole', async () => {
  const text = jsonl([
    { t: 0.1, at: 1, type: 'output', data: 'token: ada@exa' },
    { t: 0.2, at: 2, type: 'output', data: 'mple.com done\n' },
  ]);
  const out = await maskRecordingText(text, 'jsonl', masker);
  assertClean(out);
  const data = out
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l).data)
    .join('');
  assert.ok(!data.includes('ada@example.com'));
  assert.match(data, /done\n$/);
});
