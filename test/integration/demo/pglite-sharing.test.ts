// Pure pieces that let many clients share the single PGlite backend: per-client prepared
// statement names and the FIFO lock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyFromStdinText, copyInResponse, withoutCopyInResponse } from '../../../src/demo/copy-in.js';
import { ExclusiveLock } from '../../../src/demo/exclusive.js';
import { prefixStatementName } from '../../../src/demo/statement-names.js';
import {
  MessageReader,
  MessageWriter,
  parseBind,
  parseParse,
  writeBind,
  writeClose,
  writeCommandComplete,
  writeDescribe,
  writeExecute,
  writeParse,
  writeQuery,
  writeReadyForQuery,
} from '../../../src/protocols/postgres/wire/index.js';

function frameOf(build: (w: MessageWriter) => void): Buffer {
  const w = new MessageWriter();
  build(w);
  return Buffer.from(w.flush());
}

function payload(frame: Buffer): { code: number; buffer: Buffer; start: number; length: number } {
  const r = new MessageReader();
  r.push(frame);
  assert.ok(r.next(), 'one complete message');
  assert.equal(r.pending, 0, 'length field matches the bytes');
  return { code: r.code, buffer: r.buffer, start: r.start, length: r.length };
}

describe('prefixStatementName', () => {
  it('prefixes a named Parse and reports the name, keeping text and parameter types', () => {
    const { frame, prepared } = prefixStatementName(
      frameOf((w) => writeParse(w, 'stmt1', 'SELECT $1::int', [23])),
      'c7_',
    );
    assert.equal(prepared, 'c7_stmt1');
    const p = payload(frame);
    assert.deepEqual(parseParse(p.buffer, p.start, p.length), {
      name: 'c7_stmt1',
      text: 'SELECT $1::int',
      paramTypes: [23],
    });
  });

  it('leaves the unnamed statement and unrelated messages untouched (same buffer)', () => {
    const unnamed = frameOf((w) => writeParse(w, '', 'SELECT 1'));
    assert.equal(prefixStatementName(unnamed, 'c1_').frame, unnamed);
    assert.equal(prefixStatementName(unnamed, 'c1_').prepared, undefined);
    const execute = frameOf((w) => writeExecute(w, 'portal', 0));
    assert.equal(prefixStatementName(execute, 'c1_').frame, execute);
    const describePortal = frameOf((w) => writeDescribe(w, 'P', 'portal'));
    assert.equal(prefixStatementName(describePortal, 'c1_').frame, describePortal);
  });

  it('prefixes the statement (not the portal) of a Bind, keeping parameters', () => {
    const { frame } = prefixStatementName(
      frameOf((w) => writeBind(w, { portal: 'p1', statement: 'héllo', params: ['x', null], resultFormats: [1] })),
      'c2_',
    );
    const p = payload(frame);
    const bind = parseBind(p.buffer, p.start, p.length);
    assert.equal(bind.portal, 'p1');
    assert.equal(bind.statement, 'c2_héllo');
    assert.deepEqual(
      bind.params.map((b) => (b === null ? null : b.toString())),
      ['x', null],
    );
    assert.deepEqual(bind.resultFormats, [1]);
  });

  it('prefixes Describe and Close of a statement', () => {
    for (const build of [
      (w: MessageWriter) => writeDescribe(w, 'S', 'abc'),
      (w: MessageWriter) => writeClose(w, 'S', 'abc'),
    ]) {
      const p = payload(prefixStatementName(frameOf(build), 'c3_').frame);
      assert.equal(String.fromCharCode(p.buffer[p.start]!), 'S');
      assert.equal(p.buffer.toString('utf8', p.start + 1, p.start + p.length - 1), 'c3_abc');
    }
  });
});

describe('ExclusiveLock', () => {
  it('grants in arrival order, is re-entrant for its holder, and ignores release by others', async () => {
    const lock = new ExclusiveLock<string>();
    const order: string[] = [];
    await lock.acquire('a');
    await lock.acquire('a');
    const b = lock.acquire('b').then(() => order.push('b'));
    const c = lock.acquire('c').then(() => order.push('c'));
    lock.release('c'); // not the holder: no effect
    assert.equal(lock.owner, 'a');
    lock.release('a');
    await b;
    assert.equal(lock.owner, 'b');
    lock.release('b');
    await c;
    assert.deepEqual(order, ['b', 'c']);
    lock.release('c');
    assert.equal(lock.owner, null);
  });
});

describe('COPY FROM STDIN helpers', () => {
  it('recognises COPY … FROM STDIN in a Query or Parse, after comments, and nothing else', () => {
    const q = (sql: string) => copyFromStdinText(frameOf((w) => writeQuery(w, sql)));
    assert.equal(q('COPY orders FROM STDIN'), 'COPY orders FROM STDIN');
    assert.ok(q('-- load\n /* rows */ copy orders (id, amount)\n  from\tstdin with (format csv)'));
    assert.equal(q('COPY orders TO STDOUT'), null);
    assert.equal(q("SELECT 'COPY x FROM STDIN'"), null);
    assert.ok(copyFromStdinText(frameOf((w) => writeParse(w, 's1', 'copy t from stdin'))));
    assert.equal(copyFromStdinText(frameOf((w) => writeExecute(w))), null);
  });

  it('answers with the overall format of the COPY, and drops the real CopyInResponse from the reply', () => {
    assert.equal(copyInResponse('COPY t FROM STDIN')[5], 0);
    assert.equal(copyInResponse('COPY t FROM STDIN WITH (FORMAT binary)')[5], 1);
    const w = new MessageWriter();
    w.bytes(copyInResponse('COPY t FROM STDIN'));
    writeCommandComplete(w, 'COPY 2');
    writeReadyForQuery(w, 'I');
    const reply = Buffer.from(w.flush());
    const stripped = withoutCopyInResponse(reply);
    const r = new MessageReader();
    r.push(stripped);
    const codes: string[] = [];
    while (r.next()) codes.push(String.fromCharCode(r.code));
    assert.deepEqual(codes, ['C', 'Z']);
  });
});
