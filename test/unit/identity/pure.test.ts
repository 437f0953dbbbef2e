import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ALGORITHMS, isAsymmetricAlgorithm } from '../../../src/identity/algorithms.js';
import { groupsFromClaims } from '../../../src/identity/groups.js';
import { issuerLookupKey } from '../../../src/identity/issuer-key.js';
import { quoteUntrusted, tokenError } from '../../../src/identity/token-error.js';

describe('groupsFromClaims', () => {
  it('reads a list, a single string, or nothing', () => {
    assert.deepEqual(groupsFromClaims({ groups: ['a', 'b', 'a'] }, 'groups'), { ok: true, groups: ['a', 'b'] });
    assert.deepEqual(groupsFromClaims({ groups: 'a' }, 'groups'), { ok: true, groups: ['a'] });
    assert.deepEqual(groupsFromClaims({}, 'groups'), { ok: true, groups: [] });
    assert.deepEqual(groupsFromClaims({ roles: ['x'] }, 'roles'), { ok: true, groups: ['x'] });
  });
  it('follows a dotted path when no claim has that literal name', () => {
    const claims = { realm_access: { roles: ['dba'] }, 'cognito:groups': ['ops'] };
    assert.deepEqual(groupsFromClaims(claims, 'realm_access.roles'), { ok: true, groups: ['dba'] });
    assert.deepEqual(groupsFromClaims(claims, 'cognito:groups'), { ok: true, groups: ['ops'] });
  });
  it('fails on a wrong shape instead of dropping groups, and ignores inherited properties', () => {
    assert.equal(groupsFromClaims({ groups: ['a', 1] }, 'groups').ok, false);
    assert.equal(groupsFromClaims({ groups: { a: 1 } }, 'groups').ok, false);
    assert.deepEqual(groupsFromClaims({}, 'constructor'), { ok: true, groups: [] });
    assert.deepEqual(groupsFromClaims({ a: {} }, 'a.toString'), { ok: true, groups: [] });
  });
});

describe('issuerLookupKey', () => {
  it('ignores a trailing slash and host case, keeps paths', () => {
    assert.equal(issuerLookupKey('https://Login.Example.com/'), issuerLookupKey('https://login.example.com'));
    assert.notEqual(issuerLookupKey('https://x.example/a'), issuerLookupKey('https://x.example/b'));
    assert.equal(issuerLookupKey('spiffe-trust-domain'), 'spiffe-trust-domain');
  });
});

describe('tokenError', () => {
  it('maps reasons to codes', () => {
    assert.equal(tokenError('expired', 'm').code, 'WARDEN_TOKEN_EXPIRED');
    assert.equal(tokenError('unknown-issuer', 'm').code, 'WARDEN_ISSUER_UNKNOWN');
    for (const r of ['not-yet-valid', 'wrong-audience', 'alg-none', 'bad-signature', 'jwks-unavailable'] as const) {
      const e = tokenError(r, 'm', { issuer: 'https://i' });
      assert.equal(e.code, 'WARDEN_TOKEN_INVALID');
      assert.deepEqual(e.detail, { reason: r, issuer: 'https://i' });
    }
  });
  it('quotes untrusted text on one short line', () => {
    assert.equal(quoteUntrusted('a\nb'), 'a?b');
    assert.equal(quoteUntrusted('x'.repeat(200)).length, 121);
    assert.equal(quoteUntrusted(42), '42');
  });
});

describe('algorithms', () => {
  it('are asymmetric only', () => {
    assert.ok(DEFAULT_ALGORITHMS.every(isAsymmetricAlgorithm));
    for (const alg of ['none', 'HS256', 'HS512', '', undefined]) assert.equal(isAsymmetricAlgorithm(alg), false);
  });
});
