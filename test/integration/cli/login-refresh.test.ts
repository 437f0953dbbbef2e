// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators (innerText is what a person sees), not DOM nodes
// The token `warden login` stored (code + PKCE against a real oidc-provider, signed in in
// Chromium), as client commands use it: an expired one is refreshed at the issuer (rotated,
// stored 0600 again), and so is one the gateway refuses though it has not expired here; a
// refused refresh, an expired token without a refresh token, a file warden did not write and a
// file others may read all say what to do, and no token is ever printed.
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { loginSuite, type Stored } from './login-support.js';

describe('the stored sign-in: refresh and file checks', () => {
  const s = loginSuite();

  it('signs in', async () => {
    await s.login('olga');
    assert.equal((await stat(s.tokenFile())).mode & 0o777, 0o600);
  });

  it('an expired token is refreshed at the issuer (rotated, stored 0600 again); a refused refresh says to sign in', async () => {
    const before = await s.readStored();
    await writeFile(s.tokenFile(), JSON.stringify({ ...before, expiresAt: Date.now() - 1000 }));
    const list = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(s.reviewId));
    const after = await s.readStored();
    s.remember(after);
    assert.notEqual(after.accessToken, before.accessToken, 'a new access token');
    assert.ok(after.refreshToken && after.refreshToken !== before.refreshToken, 'the refresh token rotated');
    assert.ok(after.expiresAt && after.expiresAt > Date.now());
    assert.equal((await stat(s.tokenFile())).mode & 0o777, 0o600);

    // An access token the gateway refuses though it has not expired here: refreshed once, sent again.
    await writeFile(s.tokenFile(), JSON.stringify({ ...after, accessToken: `${after.accessToken.slice(0, -4)}AAAA` }));
    const retried = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(s.reviewId));
    const again = await s.readStored();
    s.remember(again);
    assert.notEqual(again.refreshToken, after.refreshToken, 'refreshed at the issuer');

    // The old (rotated-away) refresh token is refused by the issuer: a clear way out, no token shown.
    await writeFile(
      s.tokenFile(),
      JSON.stringify({ ...again, expiresAt: Date.now() - 1000, refreshToken: before.refreshToken }),
    );
    const refused = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /your sign-in has expired and the issuer refused to refresh it \(invalid_grant.*run warden login/,
    );
    await writeFile(s.tokenFile(), JSON.stringify(again));
  });

  it('an expired token without a refresh token, and a file warden did not write, say to sign in again', async () => {
    const saved = await readFile(s.tokenFile(), 'utf8');
    const { refreshToken: _r, ...rest } = JSON.parse(saved) as Stored;
    await writeFile(s.tokenFile(), JSON.stringify({ ...rest, expiresAt: Date.now() - 1000 }));
    const expired = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /your sign-in has expired and cannot be refreshed: run warden login/);
    await writeFile(s.tokenFile(), '{"accessToken": 42');
    const garbage = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /token\.json is not a token file warden wrote: run warden login again/);
    await writeFile(s.tokenFile(), saved);
  });

  it('a token file others may read is not used', async () => {
    await chmod(s.tokenFile(), 0o644);
    const r = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /token\.json is open to other users \(mode 0644\); not using it/);
    await chmod(s.tokenFile(), 0o600);
  });

  it('no token was ever printed', () => {
    assert.ok(s.seenTokens.size >= 4);
    const all = s.printed.join('\n');
    for (const t of s.seenTokens) assert.equal(all.includes(t), false, 'a token appeared in the CLI output');
  });
});
