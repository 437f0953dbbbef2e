// The dev issuer end to end: key on disk, tokens minted, discovery + JWKS served over HTTP by a
// server started here (as the API listener will), verified through the ordinary issuer path.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { ManualClock } from '../../../src/core/clock.js';
import { isWardenError } from '../../../src/core/errors.js';
import { DEV_ISSUER_KEY_FILE, DevIssuer, IdentityVerifier } from '../../../src/identity/index.js';

describe('DevIssuer', () => {
  let dataDir: string;
  let server: Server;
  let issuerUrl: string;
  let dev: DevIssuer;
  const requests: string[] = [];
  const clock = new ManualClock(Date.now());

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'warden-dev-issuer-'));
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const body =
        req.url === '/dev/.well-known/openid-configuration'
          ? dev.discoveryDocument()
          : req.url === '/dev/jwks.json'
            ? dev.jwks()
            : undefined;
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { error: 'not found' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev`;
    dev = await DevIssuer.load(join(dataDir, 'nested'), issuerUrl, { clock });
  });
  after(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await rm(dataDir, { recursive: true, force: true });
  });

  function httpVerifier(): IdentityVerifier {
    return new IdentityVerifier(
      {
        dev: false,
        devTokenTtl: '15m',
        issuers: [{ issuer: dev.issuer, audience: 'warden', groupsClaim: 'groups', clockSkew: 30 }],
      },
      { clock },
    );
  }

  it('mints a token verified through HTTP discovery + JWKS', async () => {
    const token = await dev.mint({
      sub: 'alice',
      groups: ['agents', 'dba'],
      ttlMs: 15 * 60_000,
      extra: { sub: 'mallory', team: 'x' },
    });
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.kid, dev.kid);
    const claims = decodeJwt(token);
    for (const c of ['iat', 'nbf', 'exp', 'jti']) assert.ok(claims[c] !== undefined, `${c} is set`);
    assert.equal(claims.aud, 'warden');

    const before = requests.length;
    const id = await httpVerifier().verify(token);
    assert.equal(id.sub, 'alice', 'extra claims never override sub');
    assert.equal(id.issuer, issuerUrl);
    assert.deepEqual(id.groups, ['agents', 'dba']);
    assert.equal(id.tokenId, claims.jti);
    assert.equal(id.claims.team, 'x');
    assert.equal(id.expiresAt, (claims.exp as number) * 1000);
    assert.deepEqual(requests.slice(before), ['/dev/.well-known/openid-configuration', '/dev/jwks.json']);
  });

  it('publishes only the public key; the key file is 0600', async () => {
    const jwks = dev.jwks();
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.d, undefined);
    assert.equal(jwks.keys[0]?.kid, dev.kid);
    assert.equal(dev.discoveryDocument().jwks_uri, `${issuerUrl}/jwks.json`);
    assert.ok(!JSON.stringify(dev).includes('"d"'));
    const file = join(dataDir, 'nested', DEV_ISSUER_KEY_FILE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(typeof JSON.parse(await readFile(file, 'utf8')).d, 'string');
  });

  it('keeps its key across load(): a token from the first load verifies with the second', async () => {
    const token = await dev.mint({ sub: 'bob', groups: ['oncall'], ttlMs: 60_000 });
    const again = await DevIssuer.load(join(dataDir, 'nested'), issuerUrl, { clock });
    assert.equal(again.kid, dev.kid);
    assert.deepEqual(again.jwks(), dev.jwks());
    // identity.dev: true takes the dev issuer's keys from memory: no HTTP request.
    const before = requests.length;
    const inMemory = new IdentityVerifier({ dev: true, devTokenTtl: '15m', issuers: [] }, { clock, devIssuer: again });
    assert.deepEqual((await inMemory.verify(token)).groups, ['oncall']);
    assert.equal(requests.length, before);
  });

  it('rejects an expired dev token', async () => {
    const token = await dev.mint({ sub: 'carol', groups: [], ttlMs: 60_000 });
    const later = new ManualClock(clock.now() + 60_000 + 31_000);
    const verifier = new IdentityVerifier(
      { dev: true, devTokenTtl: '15m', issuers: [] },
      { clock: later, devIssuer: dev },
    );
    await assert.rejects(verifier.verify(token), (e: unknown) => {
      assert.ok(isWardenError(e, 'WARDEN_TOKEN_EXPIRED'));
      assert.equal(e.detail.reason, 'expired');
      return true;
    });
    await assert.rejects(
      httpVerifier().verify(await dev.mint({ sub: 'd', groups: [], ttlMs: 1000, audience: 'elsewhere' })),
      (e: unknown) => isWardenError(e, 'WARDEN_TOKEN_INVALID') && e.detail.reason === 'wrong-audience',
    );
  });

  it('dev tokens are untrusted unless identity.dev is on', async () => {
    const token = await dev.mint({ sub: 'eve', groups: ['admins'], ttlMs: 60_000 });
    const off = new IdentityVerifier({ dev: false, devTokenTtl: '15m', issuers: [] }, { clock, devIssuer: dev });
    await assert.rejects(off.verify(token), (e: unknown) => isWardenError(e, 'WARDEN_ISSUER_UNKNOWN'));
    assert.throws(() => new IdentityVerifier({ dev: true, devTokenTtl: '15m', issuers: [] }), TypeError);
  });

  it('refuses a corrupt key file and bad mint arguments', async () => {
    const dir = join(dataDir, 'corrupt');
    await DevIssuer.load(dir, issuerUrl);
    await writeFile(join(dir, DEV_ISSUER_KEY_FILE), '{"kty":"oct","k":"AAAA"}');
    await assert.rejects(DevIssuer.load(dir, issuerUrl), /not an ES256 private key/);
    await assert.rejects(dev.mint({ sub: '', groups: [], ttlMs: 1000 }), TypeError);
    await assert.rejects(dev.mint({ sub: 'x', groups: [], ttlMs: -1 }), TypeError);
    await assert.rejects(DevIssuer.load(dir, 'not a url'), TypeError);
  });
});
