// IdentityVerifier against a real oidc-provider on loopback. Tokens the provider won't mint
// (expired, wrong aud, alg none, …) are forged with jose and the provider's own private key.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { base64url, decodeJwt, generateKeyPair, importJWK, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import type { IssuerConfig } from '../../../src/config/schema.js';
import { ManualClock } from '../../../src/core/clock.js';
import type { ErrorCode } from '../../../src/core/errors.js';
import { isWardenError } from '../../../src/core/errors.js';
import { IdentityVerifier } from '../../../src/identity/index.js';
import { type OidcTestProvider, startOidcProvider } from '../../helpers/oidc.js';

function issuerConfig(p: OidcTestProvider, extra: Partial<IssuerConfig> = {}): IssuerConfig {
  return { issuer: p.issuer, audience: p.audience, groupsClaim: 'groups', clockSkew: 30, ...extra };
}

async function assertRejected(
  verifier: IdentityVerifier,
  token: string,
  code: ErrorCode,
  reason: string,
): Promise<void> {
  await assert.rejects(verifier.verify(token), (e: unknown) => {
    assert.ok(isWardenError(e), `expected a WardenError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.detail.reason, reason);
    if (token !== '') assert.ok(!e.message.includes(token), 'the message must never contain the token');
    assert.ok(!e.message.includes('\n'), 'one-line message');
    return true;
  });
}

describe('IdentityVerifier with a real OIDC provider', () => {
  let p: OidcTestProvider;
  let clock: ManualClock;
  let verifier: IdentityVerifier;
  const nowS = () => Math.floor(clock.now() / 1000);

  // A token signed with the provider's real key, claims chosen by the test.
  async function forge(claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
    const key = await importJWK(p.privateJwk, 'RS256');
    return new SignJWT({ sub: 'forged', groups: ['agents'], ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: p.privateJwk.kid, ...header })
      .sign(key);
  }
  const validClaims = (): JWTPayload => ({
    iss: p.issuer,
    aud: p.audience,
    iat: nowS(),
    nbf: nowS(),
    exp: nowS() + 300,
    jti: 'forged-jti',
  });

  before(async () => {
    p = await startOidcProvider();
    clock = new ManualClock(Date.now());
    verifier = new IdentityVerifier({ dev: false, devTokenTtl: '15m', issuers: [issuerConfig(p)] }, { clock });
  });
  after(async () => {
    await p.stop();
  });

  it('accepts a provider-issued token, with its sub, groups, expiry and jti', async () => {
    const token = await p.getToken({ sub: 'agent-7', groups: ['agents', 'dba'] });
    const claims = decodeJwt(token);
    const id = await verifier.verify(token);
    assert.equal(id.sub, 'agent-7');
    assert.equal(id.issuer, p.issuer);
    assert.deepEqual(id.groups, ['agents', 'dba']);
    assert.equal(id.expiresAt, (claims.exp as number) * 1000);
    assert.equal(typeof id.tokenId, 'string');
    assert.equal(id.tokenId, claims.jti);
    assert.equal(id.claims.aud, 'warden');
    assert.ok(p.jwksRequests() >= 1, 'keys came from the provider JWKS');
  });

  it('gives no groups when the claim is absent and keeps a single-string claim as one group', async () => {
    const noGroups = await verifier.verify(await p.getToken({ sub: 'lonely' }));
    assert.deepEqual(noGroups.groups, []);
    const single = await verifier.verify(await forge({ ...validClaims(), groups: 'oncall' }));
    assert.deepEqual(single.groups, ['oncall']);
  });

  it('rejects an expired token (provider token, clock moved past exp + skew)', async () => {
    const token = await p.getToken({ groups: ['agents'] });
    const exp = decodeJwt(token).exp as number;
    const saved = clock.now();
    try {
      clock.set(exp * 1000 + 31_000);
      await assertRejected(verifier, token, 'WARDEN_TOKEN_EXPIRED', 'expired');
      await assert.rejects(verifier.verify(token), /token expired at \d{4}-\d\d-\d\dT/);
      // Within the 30 s skew it still passes.
      clock.set(exp * 1000 + 20_000);
      assert.equal((await verifier.verify(token)).sub, 'warden-test');
    } finally {
      clock.set(saved);
    }
  });

  it('rejects a forged expired token', async () => {
    const token = await forge({ ...validClaims(), iat: nowS() - 600, nbf: nowS() - 600, exp: nowS() - 120 });
    await assertRejected(verifier, token, 'WARDEN_TOKEN_EXPIRED', 'expired');
  });

  it('rejects a token whose nbf is in the future (beyond the skew)', async () => {
    const token = await forge({ ...validClaims(), nbf: nowS() + 120 });
    await assertRejected(verifier, token, 'WARDEN_TOKEN_INVALID', 'not-yet-valid');
    await assert.rejects(verifier.verify(token), /not valid before/);
  });

  it('rejects a token whose iss is not exactly the configured issuer', async () => {
    const token = await forge({ ...validClaims(), iss: `${p.issuer}/` });
    await assertRejected(verifier, token, 'WARDEN_TOKEN_INVALID', 'wrong-issuer');
  });

  it('rejects a token for another audience', async () => {
    const token = await forge({ ...validClaims(), aud: 'some-other-api' });
    await assertRejected(verifier, token, 'WARDEN_TOKEN_INVALID', 'wrong-audience');
  });

  it("rejects an unsigned token (alg 'none')", async () => {
    const token = new UnsecuredJWT({ ...validClaims(), sub: 'x' }).encode();
    await assertRejected(verifier, token, 'WARDEN_TOKEN_INVALID', 'alg-none');
  });

  it("rejects HS256 signed with the issuer's public key as the HMAC secret", async () => {
    const publicPem = createPublicKey({ key: p.privateJwk as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const secret = new TextEncoder().encode(publicPem);
    const token = await new SignJWT({ ...validClaims(), sub: 'attacker', groups: ['admins'] })
      .setProtectedHeader({ alg: 'HS256', kid: p.privateJwk.kid })
      .sign(secret);
    await assertRejected(verifier, token, 'WARDEN_TOKEN_INVALID', 'alg-not-allowed');
  });

  it('rejects an algorithm outside the issuer allow-list', async () => {
    const strict = new IdentityVerifier(
      { dev: false, devTokenTtl: '15m', issuers: [issuerConfig(p, { algorithms: ['ES256'] })] },
      { clock },
    );
    await assertRejected(strict, await p.getToken(), 'WARDEN_TOKEN_INVALID', 'alg-not-allowed');
  });

  it('refetches the JWKS on an unknown kid (rate limited), then rejects', async () => {
    await verifier.verify(await p.getToken()); // keys cached
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ ...validClaims() })
      .setProtectedHeader({ alg: 'RS256', kid: 'not-in-the-jwks' })
      .sign(privateKey);
    clock.advance(10_000); // past any earlier cooldown

    const before = p.jwksRequests();
    await assertRejected(verifier, token, 'WARDEN_TOKEN_INVALID', 'unknown-kid');
    assert.equal(p.jwksRequests(), before + 1, 'the JWKS was refetched once');

    await assertRejected(verifier, token, 'WARDEN_TOKEN_INVALID', 'unknown-kid');
    assert.equal(p.jwksRequests(), before + 1, 'no second refetch within the cooldown');

    clock.advance(10_000);
    await assertRejected(verifier, token, 'WARDEN_TOKEN_INVALID', 'unknown-kid');
    assert.equal(p.jwksRequests(), before + 2, 'refetched again after the cooldown');
  });

  it('rejects a tampered payload (bad signature)', async () => {
    const token = await p.getToken({ sub: 'agent-1', groups: ['agents'] });
    const [h, payload, sig] = token.split('.') as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
    claims.groups = ['admins'];
    const tampered = `${h}.${base64url.encode(JSON.stringify(claims))}.${sig}`;
    await assertRejected(verifier, tampered, 'WARDEN_TOKEN_INVALID', 'bad-signature');
  });

  it('rejects a token from an unconfigured issuer', async () => {
    const token = await forge({ ...validClaims(), iss: 'https://evil.example.com' });
    await assertRejected(verifier, token, 'WARDEN_ISSUER_UNKNOWN', 'unknown-issuer');
  });

  it('rejects junk as malformed', async () => {
    await assertRejected(verifier, 'not-a-jwt', 'WARDEN_TOKEN_INVALID', 'malformed');
    await assertRejected(verifier, '', 'WARDEN_TOKEN_INVALID', 'malformed');
    const noSub = await new SignJWT({ ...validClaims() })
      .setProtectedHeader({ alg: 'RS256', kid: p.privateJwk.kid })
      .sign(await importJWK(p.privateJwk, 'RS256'));
    await assertRejected(verifier, noSub, 'WARDEN_TOKEN_INVALID', 'malformed');
    const badGroups = await forge({ ...validClaims(), groups: ['ok', 7] });
    await assertRejected(verifier, badGroups, 'WARDEN_TOKEN_INVALID', 'malformed');
  });

  it('uses a configured jwksUri without discovery', async () => {
    const direct = new IdentityVerifier(
      { dev: false, devTokenTtl: '15m', issuers: [issuerConfig(p, { jwksUri: `${p.issuer}/jwks` })] },
      { clock },
    );
    const id = await direct.verify(await p.getToken({ sub: 'ci-job', groups: ['ci'] }));
    assert.deepEqual([id.sub, id.groups], ['ci-job', ['ci']]);
    assert.equal(direct.jwksFetchCount(p.issuer), 1);
  });
});

describe('IdentityVerifier when the JWKS endpoint goes down', () => {
  let p: OidcTestProvider;
  before(async () => {
    p = await startOidcProvider();
  });
  after(async () => {
    await p.stop();
  });

  it('keeps verifying with cached keys; an issuer never reached is jwks-unavailable', async () => {
    const clock = new ManualClock(Date.now());
    const config = { dev: false, devTokenTtl: '15m', issuers: [issuerConfig(p)] };
    const verifier = new IdentityVerifier(config, { clock, fetchTimeoutMs: 1000 });
    const first = await p.getToken({ sub: 'agent-1', groups: ['agents'] });
    const second = await p.getToken({ sub: 'agent-2', groups: ['dba'] });
    assert.equal((await verifier.verify(first)).sub, 'agent-1');

    await p.stop();
    assert.deepEqual((await verifier.verify(second)).groups, ['dba']);
    // Even past the cache max-age: the refresh fails, the cached keys stay.
    clock.advance(11 * 60_000);
    const later = await new SignJWT({
      sub: 'agent-3',
      aud: 'warden',
      iss: p.issuer,
      exp: Math.floor(clock.now() / 1000) + 60,
    })
      .setProtectedHeader({ alg: 'RS256', kid: p.privateJwk.kid })
      .sign(await importJWK(p.privateJwk, 'RS256'));
    assert.equal((await verifier.verify(later)).sub, 'agent-3');

    const cold = new IdentityVerifier(config, { clock, fetchTimeoutMs: 1000 });
    await assertRejected(cold, second, 'WARDEN_TOKEN_INVALID', 'jwks-unavailable');
  });
});
