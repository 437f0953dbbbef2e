// The Host allow-list and base URL on their own, for listen addresses the integration tests do
// not start (wildcards, IPv6, a public origin).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { publicOrigin } from '../../../src/api/public-origin.js';
import { parseConfig } from '../../../src/config/index.js';

function originFor(listen: string) {
  const { config } = parseConfig(`listen:\n${listen}\nidentity: { dev: true }\n`, { baseDir: '/tmp' });
  return publicOrigin(config, () => null);
}

describe('public origin', () => {
  it('a specific listen host: it and loopback names, any port; nothing that merely contains them', () => {
    const o = originFor('  api: 10.0.0.5:8080');
    assert.equal(o.baseUrl(), 'http://10.0.0.5:8080');
    assert.equal(o.onlyLoopback, false);
    for (const h of ['10.0.0.5:8080', '10.0.0.5', 'localhost', 'LocalHost:1', '127.0.0.1:8080', '[::1]:8080'])
      assert.ok(o.allowsHost(h), h);
    for (const h of [
      undefined,
      '',
      'evil.example',
      '10.0.0.5.evil.example',
      'evil.example#10.0.0.5',
      '10.0.0.5:8080@evil.example',
      'localhost.',
      '127.0.0.1 ',
      '[::1',
      '127.0.0.1:8080:1',
      '10.0.0.5:999999',
    ])
      assert.equal(o.allowsHost(h), false, String(h));
  });

  it('a wildcard listen host without publicUrl: loopback names and the wildcard literal only', () => {
    const o = originFor('  api: 0.0.0.0:8080');
    assert.equal(o.onlyLoopback, true);
    assert.equal(o.baseUrl(), 'http://127.0.0.1:8080');
    assert.ok(o.allowsHost('0.0.0.0:8080'));
    assert.ok(o.allowsHost('localhost:8080'));
    assert.equal(o.allowsHost('10.0.0.5:8080'), false);
  });

  it('publicUrl: its host, and the base URL is the origin whatever the request says', () => {
    const o = originFor('  api: "[::]:8080"\n  publicUrl: https://GW.example.com:8443');
    assert.equal(o.onlyLoopback, false);
    assert.equal(o.baseUrl(), 'https://gw.example.com:8443');
    assert.ok(o.allowsHost('gw.example.com:8443'));
    assert.ok(o.allowsHost('[::]:8080'));
    assert.equal(o.allowsHost('example.com'), false);
  });
});
