import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dataRowCells,
  isProtocolError,
  MessageReader,
  MessageWriter,
  parseErrorResponse,
  rewriteDataRow,
  rewriteErrorFields,
  writeDataRow,
  writeErrorResponse,
  writeNoticeResponse,
} from '../../../src/protocols/postgres/wire/index.js';

function frame(build: (w: MessageWriter) => void): Buffer {
  const w = new MessageWriter();
  build(w);
  return Buffer.from(w.flush());
}

function cells(b: Buffer): (string | null)[] {
  const r = new MessageReader();
  r.push(b);
  assert.equal(r.next(), true);
  assert.equal(r.pending, 0);
  return dataRowCells(r.buffer, r.start, r.length).map((c) => (c === null ? null : c.toString()));
}

describe('rewriteDataRow', () => {
  const row = () => frame((w) => writeDataRow(w, ['1', 'ann@example.com', null, 'x']));

  it('returns the very same Buffer when no cell changes, having visited every cell once', () => {
    const b = row();
    const seen: [number, number][] = [];
    const out = rewriteDataRow(b, 5, b.length - 5, (col, _s, n) => {
      seen.push([col, n]);
      return undefined;
    });
    assert.equal(out, b);
    assert.deepEqual(seen, [
      [0, 1],
      [1, 15],
      [2, -1],
      [3, 1],
    ]);
  });

  it('returns a view (no copy) of an unchanged row inside a larger buffer', () => {
    const b = Buffer.concat([row(), row()]);
    const second = row().length;
    const out = rewriteDataRow(b, second + 5, second - 5, () => undefined);
    assert.equal(out.buffer, b.buffer);
    assert.equal(out.byteOffset, b.byteOffset + second);
    assert.equal(out.length, second);
  });

  it('rewrites one cell to a longer value and keeps the others', () => {
    const b = row();
    const out = rewriteDataRow(b, 5, b.length - 5, (col) => (col === 1 ? Buffer.from('a***@example.com') : undefined));
    assert.notEqual(out, b);
    assert.deepEqual(cells(out), ['1', 'a***@example.com', null, 'x']);
    assert.deepEqual(cells(b), ['1', 'ann@example.com', null, 'x'], 'input untouched');
  });

  it('rewrites a cell to NULL and a NULL cell to a value', () => {
    const b = row();
    const out = rewriteDataRow(b, 5, b.length - 5, (col) =>
      col === 0 ? null : col === 2 ? Buffer.from('filled') : undefined,
    );
    assert.deepEqual(cells(out), [null, 'ann@example.com', 'filled', 'x']);
  });

  it('survives a re-entrant call from the cell callback', () => {
    const b = row();
    const inner = row();
    const out = rewriteDataRow(b, 5, b.length - 5, (col) => {
      if (col !== 3) return undefined;
      const same = rewriteDataRow(inner, 5, inner.length - 5, () => undefined);
      assert.equal(same, inner);
      return Buffer.from('y');
    });
    assert.deepEqual(cells(out), ['1', 'ann@example.com', null, 'y']);
  });

  it('rejects a malformed row', () => {
    const w = new MessageWriter();
    const bad = Buffer.from(w.begin(0x44).int16(2).int32(3).string('abc').end().flush());
    assert.throws(
      () => rewriteDataRow(bad, 5, bad.length - 5, () => undefined),
      (e) => isProtocolError(e, 'malformed-message'),
    );
  });
});

describe('rewriteErrorFields', () => {
  it('masks message and detail, keeps other fields and the message type', () => {
    const b = frame((w) =>
      writeErrorResponse(w, {
        severity: 'ERROR',
        code: '23505',
        message: 'duplicate key: ann@example.com',
        detail: 'Key (email)=(ann@example.com) already exists.',
        constraint: 'customers_email_key',
      }),
    );
    const out = rewriteErrorFields(b, 5, b.length - 5, (f, v) =>
      f === 'M' || f === 'D' ? v.replaceAll('ann@example.com', '[email]') : undefined,
    );
    assert.equal(out[0], 0x45);
    const e = parseErrorResponse(out, 5, out.length - 5);
    assert.equal(e.message, 'duplicate key: [email]');
    assert.equal(e.detail, 'Key (email)=([email]) already exists.');
    assert.equal(e.code, '23505');
    assert.equal(e.fields.get('n'), 'customers_email_key');
  });

  it('returns the same Buffer when nothing changes (notice too)', () => {
    const b = frame((w) => writeNoticeResponse(w, { severity: 'NOTICE', code: '00000', message: 'fine' }));
    assert.equal(
      rewriteErrorFields(b, 5, b.length - 5, () => undefined),
      b,
    );
    assert.equal(
      rewriteErrorFields(b, 5, b.length - 5, (_f, v) => v),
      b,
    );
  });
});
