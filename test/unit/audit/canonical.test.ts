import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canonicalJson,
  canonicalJsonWithoutSecrets,
  chainBody,
  isSecretKey,
  RawJson,
  stripSecrets,
} from '../../../src/audit/index.js';

test('canonicalJson sorts keys at every depth and drops whitespace', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }),
    '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
  );
  assert.equal(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
});

test('canonicalJson follows JSON rules for odd values', () => {
  assert.equal(canonicalJson({ u: undefined, f: () => 1, n: Number.NaN, i: -0 }), '{"i":0,"n":null}');
  assert.equal(canonicalJson([undefined, 1]), '[null,1]');
  assert.equal(canonicalJson(new Date(Date.UTC(2026, 0, 1))), '"2026-01-01T00:00:00.000Z"');
  assert.equal(canonicalJson(12345678901234567890n), '12345678901234567890');
  assert.equal(canonicalJson('é"\n'), JSON.stringify('é"\n'));
  assert.equal(canonicalJson({ raw: new RawJson('{"b":1}') }), '{"raw":{"b":1}}');
});

test('canonicalJson is idempotent through JSON.parse', () => {
  const v = { z: [1.5, 'a', null, true, { q: 1e21, p: -3 }], a: 'ünïcode \u2028' };
  const once = canonicalJson(v);
  assert.equal(canonicalJson(JSON.parse(once)), once);
});

test('canonicalJson rejects circular structures with TypeError', () => {
  const a: Record<string, unknown> = {};
  a.self = a;
  assert.throws(() => canonicalJson(a), TypeError);
  const shared = { x: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}', 'shared, not circular');
});

test('stripSecrets drops credential-named keys at any depth, keeps the rest', () => {
  const data = {
    sql: 'select 1',
    password: 'p',
    nested: { accessToken: 't', client_secret: 's', tokenId: 'jti-1', items: [{ token: 'x', rows: 2 }] },
    headers: { Authorization: 'Bearer x', 'x-api-key': 'k', accept: 'json' },
  };
  assert.deepEqual(stripSecrets(data), {
    sql: 'select 1',
    nested: { tokenId: 'jti-1', items: [{ rows: 2 }] },
    headers: { accept: 'json' },
  });
  assert.equal(data.password, 'p', 'input is not modified');
  assert.equal(isSecretKey('PASSWORD'), true);
  assert.equal(isSecretKey('passwordPolicy'), false);
});

test('canonicalJsonWithoutSecrets equals canonicalJson(stripSecrets(v)) on every shape', () => {
  class Box {
    password = 'kept: stripSecrets leaves class instances whole';
    n = 1;
  }
  const ownToJson = {
    secretKey: 'x',
    keep: 1,
    toJSON() {
      return { seen: Object.keys(this).sort() };
    },
  };
  const samples: unknown[] = [
    {
      sql: 'select 1',
      password: 'p',
      nested: { accessToken: 't', items: [{ token: 'x', rows: 2 }, [{ apiKey: 'k', ok: true }]] },
    },
    [{ cookie: 'c', a: 1 }, null, undefined, 'x'],
    {
      when: new Date(Date.UTC(2026, 0, 1)),
      box: new Box(),
      big: 10n,
      nan: Number.NaN,
      u: undefined,
      raw: new RawJson('{"token":1}'),
    },
    { ownToJson },
    Object.assign(Object.create(null) as object, { Authorization: 'Bearer x', z: 1 }),
    'plain',
    42,
    null,
  ];
  for (const v of samples)
    assert.equal(canonicalJsonWithoutSecrets(v), canonicalJson(stripSecrets(v)), JSON.stringify(canonicalJson(v)));
  assert.equal(canonicalJsonWithoutSecrets({ b: 1, password: 'p', a: { token: 't', c: 2 } }), '{"a":{"c":2},"b":1}');
});

test('chainBody is byte for byte the canonical encoding of the chained fields', () => {
  const cases = [
    { id: 'au_1', at: 1767225600000, type: 'operation', actor: 'agent-1', session: 's_1', connection: 'shop' },
    { id: 'au_"2"', at: -0, type: 'ünï\u2028code', actor: null, session: null, connection: null },
    { id: 'au_3', at: Number.NaN, type: 't', actor: 'a\nb', session: '', connection: 'c' },
  ];
  const data = '{"effect":"allow","rules":[]}';
  for (const f of cases) {
    assert.equal(chainBody(f, data), canonicalJson({ ...f, data: new RawJson(data) }));
  }
});
