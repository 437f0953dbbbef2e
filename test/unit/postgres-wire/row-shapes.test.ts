// RowShapes.fields: a RowDescription's parsed fields come from its exact bytes, whichever cache
// answers (the last shape by byte comparison, the others by the map), so a shape redefined with
// the same length (another type, another name) is never answered with the old fields.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ColumnSources } from '../../../src/protocols/postgres/column-sources.js';
import { RowShapes } from '../../../src/protocols/postgres/row-shapes.js';
import {
  type FieldDescription,
  MessageWriter,
  writeRowDescription,
} from '../../../src/protocols/postgres/wire/index.js';

const field = (name: string, typeOID: number): FieldDescription => ({
  name,
  tableOID: 16384,
  attnum: 1,
  typeOID,
  typlen: -1,
  typmod: -1,
  format: 0,
});

/** The message's payload inside a larger buffer, `pad` bytes in, as a reader exposes it. */
function payload(fields: FieldDescription[], pad: number): { buf: Buffer; start: number; length: number } {
  const frame = writeRowDescription(new MessageWriter(), fields).flush();
  const buf = Buffer.concat([Buffer.alloc(pad, 0x41), frame, Buffer.from('tail')]);
  return { buf, start: pad + 5, length: frame.length - 5 };
}

describe('RowShapes.fields', () => {
  const shapes = () => new RowShapes(new ColumnSources(null as never));
  const fieldsOf = (s: RowShapes, p: { buf: Buffer; start: number; length: number }) =>
    s.fields(p.buf, p.start, p.length);

  it('answers a repeated shape with the same fields, wherever its bytes sit', () => {
    const s = shapes();
    const a = fieldsOf(s, payload([field('abalance', 23)], 0));
    assert.equal(fieldsOf(s, payload([field('abalance', 23)], 7)), a);
    assert.equal(a[0]?.name, 'abalance');
  });

  it('a shape changed in place, same length, gets its own fields', () => {
    const s = shapes();
    const int = fieldsOf(s, payload([field('email', 23)], 3));
    const text = fieldsOf(s, payload([field('email', 25)], 3));
    assert.equal(text[0]?.typeOID, 25);
    assert.equal(int[0]?.typeOID, 23);
    const renamed = fieldsOf(s, payload([field('phone', 25)], 3));
    assert.equal(renamed[0]?.name, 'phone');
    // Back to the first: from the map, equal to a fresh parse.
    assert.equal(fieldsOf(s, payload([field('email', 23)], 0)), int);
  });

  it('the reader reusing its buffer does not change a remembered shape', () => {
    const s = shapes();
    const p = payload([field('email', 25)], 0);
    const first = fieldsOf(s, p);
    p.buf.fill(0, p.start, p.start + p.length); // the bytes are overwritten after the message
    const q = payload([field('email', 25)], 0);
    assert.equal(fieldsOf(s, q), first);
    assert.equal(fieldsOf(s, payload([field('email', 23)], 0))[0]?.typeOID, 23);
  });
});
