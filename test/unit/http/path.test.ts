// HTTP path normalisation (DESIGN §8): what a rule sees is what the upstream resolves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHttpInput } from '../../../src/gateway/http-input.js';
import { rewriteLocation } from '../../../src/protocols/http/engine.js';
import { normalizePath, normalizeTarget } from '../../../src/protocols/http/path.js';

describe('normalizePath', () => {
  it('decodes unreserved escapes once and resolves dot segments and repeated slashes', () => {
    const cases: [string, string][] = [
      ['/refunds', '/refunds'],
      ['//refunds', '/refunds'],
      ['/admin/../refunds', '/refunds'],
      ['/admin/%2e%2e/refunds', '/refunds'],
      ['/admin/%2E%2e/refunds', '/refunds'],
      ['/./refunds/.', '/refunds/'],
      ['/%72efunds', '/refunds'],
      ['/a/b/../../../refunds', '/refunds'],
      ['/customers/', '/customers/'],
      ['/', '/'],
      ['/q/%c3%a9', '/q/%C3%A9'],
      ['/a%20b', '/a%20b'],
      ['/a%7Eb', '/a~b'],
    ];
    for (const [input, expected] of cases) assert.equal(normalizePath(input), expected, input);
  });

  it('refuses what stays ambiguous: encoded / \\ %, bad escapes, raw backslash, control characters', () => {
    for (const bad of [
      '/a%2fb',
      '/a%2F..%2Fb',
      '/%252e%252e/x',
      '/a%5cb',
      '/a\\b',
      '/%zz',
      '/%2',
      '/a%00b',
      '/a b',
      '/a#b',
    ]) {
      assert.equal(typeof normalizePath(bad), 'object', bad);
    }
  });

  it('splits the connection from the path; a bad first segment is not a connection', () => {
    assert.deepEqual(normalizeTarget('/billing/x/../refunds?a=1&b=%20'), {
      ok: true,
      connection: 'billing',
      path: '/refunds',
      rawQuery: 'a=1&b=%20',
    });
    assert.deepEqual(normalizeTarget('/billing'), { ok: true, connection: 'billing', path: '/', rawQuery: '' });
    assert.equal(normalizeTarget('http://evil/x').ok, false);
    assert.equal(normalizeTarget('/%62illing/x').ok, false);
    assert.equal(normalizeTarget('/../billing/x').ok, false);
  });

  it('policy test reads a path the same way', () => {
    assert.equal(parseHttpInput('GET /admin/%2e%2e/refunds').path, '/refunds');
    assert.equal(parseHttpInput('post //refunds {"amount":5000}').path, '/refunds');
    assert.deepEqual(parseHttpInput('post //refunds {"amount":5000}').json, { amount: 5000 });
  });

  it('rewrites redirects to the upstream into the connection prefix, leaves others', () => {
    assert.equal(rewriteLocation('http://up:80/v1/a?b=1', 'http://up:80', '/v1', 'billing'), '/billing/a?b=1');
    assert.equal(rewriteLocation('/v1/a', 'http://up:80', '/v1', 'billing'), '/billing/a');
    assert.equal(rewriteLocation('https://other/x', 'http://up:80', '/v1', 'billing'), 'https://other/x');
    assert.equal(rewriteLocation('http://up:80/other', 'http://up:80', '/v1', 'billing'), 'http://up:80/other');
  });
});
