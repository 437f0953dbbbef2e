import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BackendCode,
  FrontendCode,
  isProtocolError,
  MessageReader,
  MessageWriter,
  parseAuthentication,
  parseBind,
  parseCommandTag,
  parseDescribe,
  parseParse,
  parseRowDescription,
  parseSASLInitialResponse,
  parseSASLResponse,
  walkDataRow,
  writeDataRow,
  writeSASLInitialResponse,
  writeSASLResponse,
} from '../../../src/protocols/postgres/wire/index.js';
import { backendStream, decodeBackend, decodeFrontend, feed, fields, frontendStream } from './stream.js';

const h = (s: string) => Buffer.from(s).toString('hex');

function one(frame: Buffer): MessageReader {
  const r = new MessageReader();
  r.push(frame);
  assert.equal(r.next(), true);
  return r;
}

describe('writer → parser round trips', () => {
  it('backend messages decode to what was written', () => {
    const got = feed([backendStream()], decodeBackend);
    assert.deepEqual(got, [
      { type: 'cleartext-password' },
      { type: 'ok' },
      { name: 'server_version', value: '15.8' },
      { pid: 4242, secret: -123456789 },
      { ready: 'I' },
      fields,
      [h('1'), h('ann@example.com'), null],
      [h('2'), '', '000102ff'],
      { tag: 'SELECT 2' },
      { unknown: BackendCode.EmptyQueryResponse, payload: '' },
      {
        fields: [
          ['S', 'ERROR'],
          ['V', 'ERROR'],
          ['C', '42501'],
          ['M', 'permission denied'],
          ['D', 'd'],
          ['H', 'h'],
        ],
        severity: 'ERROR',
        code: '42501',
        message: 'permission denied',
        detail: 'd',
        hint: 'h',
      },
      {
        fields: [
          ['S', 'NOTICE'],
          ['V', 'NOTICE'],
          ['C', '00000'],
          ['M', 'hello'],
          ['W', 'here'],
        ],
        severity: 'NOTICE',
        code: '00000',
        message: 'hello',
      },
      [23, 25],
      { overallFormat: 0, columnFormats: [0, 0] },
      { copy: h('1\tann\n') },
      { pid: 77, channel: 'chan', payload: 'payload' },
      { unknown: BackendCode.NoData, payload: '' },
      { unknown: 0x7e, payload: h('mystery') },
      { ready: 'T' },
    ]);
  });

  it('frontend messages decode to what was written', () => {
    const got = feed([frontendStream()], decodeFrontend);
    assert.deepEqual(got, [
      { password: 's3cret' },
      { query: "select 'ü'" },
      { name: 'st1', text: 'select $1::int, $2', paramTypes: [23, 0] },
      { portal: 'p1', statement: 'st1', paramFormats: [0], params: [h('42'), null], resultFormats: [1] },
      { describe: { target: 'P', name: 'p1' } },
      { portal: 'p1', maxRows: 10 },
      { code: FrontendCode.Sync, payload: '' },
      { code: FrontendCode.Flush, payload: '' },
      { close: { target: 'S', name: 'st1' } },
      { copy: h('a\tb\n') },
      { code: FrontendCode.CopyDone, payload: '' },
      { copyFail: 'client gave up' },
      { code: 0x21, payload: h('unknown') },
      { code: FrontendCode.Terminate, payload: '' },
    ]);
  });

  it('SASL messages round-trip, including a null initial response', () => {
    const w = new MessageWriter();
    writeSASLInitialResponse(w, 'SCRAM-SHA-256', Buffer.from('n,,n=,r=abc'));
    writeSASLInitialResponse(w, 'SCRAM-SHA-256', null);
    writeSASLResponse(w, Buffer.from('c=biws,r=abc,p=xyz'));
    const r = new MessageReader();
    r.push(w.flush());
    const out: unknown[] = [];
    assert.equal(r.next(), true);
    const first = parseSASLInitialResponse(r.buffer, r.start, r.length);
    out.push({ mechanism: first.mechanism, data: first.data?.toString() });
    assert.equal(r.next(), true);
    out.push(parseSASLInitialResponse(r.buffer, r.start, r.length));
    assert.equal(r.next(), true);
    out.push(parseSASLResponse(r.buffer, r.start, r.length).toString());
    assert.deepEqual(out, [
      { mechanism: 'SCRAM-SHA-256', data: 'n,,n=,r=abc' },
      { mechanism: 'SCRAM-SHA-256', data: null },
      'c=biws,r=abc,p=xyz',
    ]);
  });

  it('parses the authentication variants a server sends', () => {
    const w = new MessageWriter();
    w.begin(0x52)
      .int32(5)
      .bytes(Buffer.from([1, 2, 3, 4]))
      .end();
    w.begin(0x52).int32(10).cstring('SCRAM-SHA-256-PLUS').cstring('SCRAM-SHA-256').byte(0).end();
    w.begin(0x52).int32(11).string('r=x,s=y,i=4096').end();
    w.begin(0x52).int32(12).string('v=sig').end();
    w.begin(0x52).int32(7).end();
    const r = new MessageReader();
    r.push(w.flush());
    const got: unknown[] = [];
    r.drain((m) => {
      const a = parseAuthentication(m.buffer, m.start, m.length);
      got.push('data' in a ? { ...a, data: a.data.toString() } : 'salt' in a ? { ...a, salt: [...a.salt] } : a);
    });
    assert.deepEqual(got, [
      { type: 'md5-password', salt: [1, 2, 3, 4] },
      { type: 'sasl', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] },
      { type: 'sasl-continue', data: 'r=x,s=y,i=4096' },
      { type: 'sasl-final', data: 'v=sig' },
      { type: 'unsupported', subtype: 7 },
    ]);
  });

  it('walkDataRow yields (start, length) per cell without copying, -1 for NULL', () => {
    const w = new MessageWriter();
    writeDataRow(w, ['ab', null, '', Buffer.from([9])]);
    const r = one(w.flush());
    const cells: [number, number, number][] = [];
    const count = walkDataRow(r.buffer, r.start, r.length, (i, s, n) => cells.push([i, s - r.start, n]));
    assert.equal(count, 4);
    assert.deepEqual(cells, [
      [0, 6, 2],
      [1, 12, -1],
      [2, 16, 0],
      [3, 20, 1],
    ]);
  });

  it('rejects malformed payloads with malformed-message', () => {
    const bad = (frame: Buffer, parse: (b: Buffer, s: number, n: number) => unknown) => {
      const r = one(frame);
      assert.throws(
        () => parse(r.buffer, r.start, r.length),
        (e) => isProtocolError(e, 'malformed-message'),
      );
    };
    const w = new MessageWriter();
    // DataRow whose cell length overruns the message.
    bad(w.begin(0x44).int16(1).int32(50).string('abc').end().flush(), (b, s, n) => walkDataRow(b, s, n, () => {}));
    // DataRow with fewer cells than announced.
    bad(w.begin(0x44).int16(2).int32(1).string('a').end().flush(), (b, s, n) => walkDataRow(b, s, n, () => {}));
    // DataRow with trailing bytes.
    bad(w.begin(0x44).int16(1).int32(1).string('ab').end().flush(), (b, s, n) => walkDataRow(b, s, n, () => {}));
    // Parse without the NUL after the statement text: the next message's bytes must not be read.
    const unterminated = w.begin(0x50).cstring('s').string('select 1').end().flush();
    bad(Buffer.concat([unterminated, Buffer.from([0x53, 0, 0, 0, 4, 0])]), parseParse);
    // Bind announcing more parameters than present.
    bad(w.begin(0x42).cstring('').cstring('').int16(0).int16(3).int32(-1).end().flush(), parseBind);
    // Describe with a bad target.
    bad(w.begin(0x44).byte(0x58).cstring('x').end().flush(), parseDescribe);
    // RowDescription truncated mid-field.
    bad(w.begin(0x54).int16(1).cstring('id').int32(1).end().flush(), parseRowDescription);
  });

  it('command tags split into command and row count', () => {
    assert.deepEqual(parseCommandTag('INSERT 0 5'), { command: 'INSERT', rows: 5 });
    assert.deepEqual(parseCommandTag('UPDATE 3'), { command: 'UPDATE', rows: 3 });
    assert.deepEqual(parseCommandTag('SELECT 0'), { command: 'SELECT', rows: 0 });
    assert.deepEqual(parseCommandTag('CREATE TABLE'), { command: 'CREATE TABLE', rows: null });
  });
});

describe('MessageWriter', () => {
  it('back-patches lengths and batches several messages into one flush', () => {
    const w = new MessageWriter();
    w.begin(0x51).cstring('a').end();
    w.begin(0x53).end();
    const out = w.flush();
    assert.deepEqual([...out], [0x51, 0, 0, 0, 6, 0x61, 0, 0x53, 0, 0, 0, 4]);
    assert.equal(w.size, 0);
  });

  it('never overwrites a flushed buffer, even when growing past the slab', () => {
    const w = new MessageWriter(32);
    const flushed: Buffer[] = [];
    const copies: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      writeDataRow(w, [String(i).repeat(i % 7), null, 'x'.repeat(i)]);
      const b = w.flush();
      flushed.push(b);
      copies.push(Buffer.from(b));
    }
    assert.deepEqual(flushed, copies);
    const r = new MessageReader();
    r.push(Buffer.concat(flushed));
    let rows = 0;
    r.drain(() => rows++);
    assert.equal(rows, 50);
  });

  it('rejects misuse with TypeError', () => {
    const w = new MessageWriter();
    w.begin(0x51);
    assert.throws(() => w.begin(0x51), TypeError);
    assert.throws(() => w.flush(), TypeError);
    w.end();
    assert.throws(() => w.end(), TypeError);
  });
});
