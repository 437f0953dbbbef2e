// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators (innerText is what a person sees), not DOM nodes
// `warden login` / `warden logout` against a real oidc-provider (the console's issuer, found
// through the gateway's /console/config.json), the sign-in done by a person in real headless
// Chromium on the issuer's own login and consent pages: the authorization code + PKCE grant
// with a loopback redirect. The stored token (0600 in a 0700 directory, never printed) is what
// `warden reviews list` uses; the token is not sent to another gateway; logout revokes the
// refresh token at the issuer and forgets the file. Refresh and the token file's checks:
// login-refresh.test.ts; the device grant, revocation, cancel and timeout: login-device.test.ts.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { CLI_CLIENT } from '../console/oidc-provider.js';
import { LoginRun, loginSuite } from './login-support.js';

describe('warden login (code + PKCE, loopback) / logout against a real oidc-provider', () => {
  const s = loginSuite();

  it('code + PKCE via the loopback redirect: the stored token (0600) is what `warden reviews list` uses', async () => {
    const run = new LoginRun(['--gateway', s.gw.apiUrl], s.env());
    const [, authUrl] = await run.waitFor(/^\s+(http\S+)$/m);
    const auth = new URL(authUrl!);
    assert.equal(auth.origin, s.idp.issuer);
    assert.equal(auth.searchParams.get('client_id'), CLI_CLIENT);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    const redirect = new URL(auth.searchParams.get('redirect_uri')!);
    assert.equal(redirect.hostname, '127.0.0.1');

    // A local process guessing at the listener gets nothing and ends nothing.
    const forged = await fetch(`${redirect.href}?code=forged&state=not-ours`);
    assert.equal(forged.status, 400);
    assert.equal(run.child.exitCode, null, 'a wrong state does not end the sign-in');

    const page = await (await s.browser.newContext()).newPage();
    await page.goto(auth.href);
    await s.signInAt(page, 'olga');
    await page.getByText('Signed in to Warden').waitFor({ timeout: 15_000 });
    assert.equal(await run.exit, 0, run.stderr);
    s.printed.push(run.stdout, run.stderr);
    assert.match(run.stderr, /signed in as olga at http:\/\/127\.0\.0\.1:\d+; token kept in .*token\.json/);

    assert.equal((await stat(s.home)).mode & 0o777, 0o700);
    assert.equal((await stat(s.tokenFile())).mode & 0o777, 0o600);
    const stored = await s.readStored();
    s.remember(stored);
    assert.equal(stored.gateway, s.gw.apiUrl);
    assert.equal(stored.clientId, CLI_CLIENT);
    assert.ok(stored.refreshToken, 'offline_access gave a refresh token');
    assert.ok(stored.expiresAt && stored.expiresAt > Date.now());

    const list = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(`${s.reviewId}\\s+pending\\s+agent-cli`),
      'as a DBA she sees the pending review',
    );

    // Never sent to a gateway it was not obtained for.
    const other = await s.warden(['reviews', 'list', '--gateway', 'http://127.0.0.1:9']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /signed in at http:\/\/127\.0\.0\.1:\d+, not http:\/\/127\.0\.0\.1:9/);
  });

  it('logout revokes the refresh token at the issuer and forgets the file', async () => {
    const stored = await s.readStored();
    const r = await s.warden(['logout']);
    assert.equal(r.code, 0, r.stderr);
    // oidc-provider revokes the refresh token; its JWT access tokens cannot be revoked, and the CLI says until when one stays valid.
    assert.match(
      r.stderr,
      /forgot .*token\.json; refresh token revoked at the issuer; the issuer cannot revoke the access token: it stays valid until \d{4}-/,
    );
    await assert.rejects(stat(s.tokenFile()), { code: 'ENOENT' });
    // The issuer itself no longer honours the refresh token.
    const refresh = await fetch(`${s.idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: stored.refreshToken!,
        client_id: CLI_CLIENT,
      }),
    });
    assert.equal(refresh.status, 400);
    assert.equal(((await refresh.json()) as { error: string }).error, 'invalid_grant');
    const list = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(list.code, 2);
    assert.match(list.stderr, /no token: run warden login/);
  });

  it('no token was ever printed', () => {
    assert.ok(s.seenTokens.size >= 2, 'the tests saw the tokens they look for');
    const all = s.printed.join('\n');
    for (const t of s.seenTokens) assert.equal(all.includes(t), false, 'a token appeared in the CLI output');
  });
});
