import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileMasker } from '../../../src/masking/index.js';

const m = compileMasker({ columns: ['email', 'customers.ssn', 'balance'], detect: ['email', 'phone', 'secret'] });

describe('maskJson', () => {
  it('redacts values under masked-column keys: text keeps a partial form, non-text becomes null', () => {
    const doc = { id: 1, email: 'ann@example.com', ssn: '123-45-6789', balance: 12.5, name: 'Ann', nothing: null };
    assert.deepEqual(m.maskJson(doc), {
      id: 1,
      email: 'a***@example.com',
      ssn: '***-**-6789',
      balance: null,
      name: 'Ann',
      nothing: null,
    });
    assert.equal(doc.email, 'ann@example.com', 'input is not mutated');
  });
  it('walks nested objects and arrays and runs detectors on every string', () => {
    const doc = {
      rows: [
        { Email: 'bob@example.com', note: 'call 415-555-2671' },
        { contact: { email: ['x', 'y'] }, tags: ['ok', 'write to cy@example.org'] },
      ],
      auth: { password: 'hunter2', api_key: 123, token: null },
    };
    assert.deepEqual(m.maskJson(doc), {
      rows: [
        { Email: 'b***@example.com', note: 'call ***-***-2671' },
        { contact: { email: null }, tags: ['ok', 'write to c***@example.org'] },
      ],
      auth: { password: '[REDACTED:password]', api_key: '[REDACTED:secret]', token: null },
    });
  });
  it('masks detector hits in keys', () => {
    assert.deepEqual(m.maskJson({ 'dee@example.com': 3 }), { 'd***@example.com': 3 });
  });
  it('redacts extra keys given by the caller', () => {
    assert.deepEqual(m.maskJson({ nickname: 'Annie', age: 40, other: 'x' }, { keys: ['NickName', 'age'] }), {
      nickname: '***',
      age: null,
      other: 'x',
    });
  });
  it('returns the same instances when nothing changed', () => {
    const inner = { a: ['x', 1, true] };
    const doc = { inner, list: [inner], name: 'Ann' };
    assert.equal(m.maskJson(doc), doc);
    const changed = m.maskJson({ inner, other: { email: 'e@example.com' } }) as { inner: unknown };
    assert.equal(changed.inner, inner, 'unchanged subtrees are shared');
    assert.equal(m.maskJson('plain'), 'plain');
    assert.equal(m.maskJson(42), 42);
  });
  it('replaces a subtree deeper than the limit instead of overflowing the stack', () => {
    let deep: unknown = 'z@example.com';
    for (let i = 0; i < 5000; i++) deep = [deep];
    const out = m.maskJson(deep);
    let node = out;
    let depth = 0;
    while (Array.isArray(node)) {
      node = node[0];
      depth++;
    }
    assert.equal(node, null);
    assert.ok(depth <= 1000);
  });
});

describe('maskJsonText', () => {
  it('masks a row_to_json cell by keys and detectors', () => {
    const text = '{"id":7,"email":"ann@example.com","notes":{"phone":"+44 20 7946 0018"},"balance":10}';
    assert.deepEqual(JSON.parse(m.maskJsonText(text)), {
      id: 7,
      email: 'a***@example.com',
      notes: { phone: '+** ** **** 0018' },
      balance: null,
    });
  });
  it('handles arrays and escaped text', () => {
    const text = ' [{"note":"mail bob\\u0040example.com"}, "x"]';
    assert.deepEqual(JSON.parse(m.maskJsonText(text)), [{ note: 'mail b***@example.com' }, 'x']);
  });
  it('returns the same string when nothing changed', () => {
    const text = '{"id":7,"name":"Ann"}';
    assert.equal(m.maskJsonText(text), text);
  });
  it('falls back to maskText when the text is not JSON', () => {
    assert.equal(m.maskJsonText('reach ann@example.com'), 'reach a***@example.com');
    assert.equal(m.maskJsonText('{broken ann@example.com'), '{broken a***@example.com');
  });
  it('masks raw JSON text without a parse when no columns are configured', () => {
    const detectOnly = compileMasker({ columns: [], detect: ['email', 'secret'] });
    const out = detectOnly.maskJsonText('{"user":"ann@example.com","password":"pw","n":[1,2]}');
    assert.deepEqual(JSON.parse(out), { user: 'a***@example.com', password: '[REDACTED:password]', n: [1, 2] });
  });
});
