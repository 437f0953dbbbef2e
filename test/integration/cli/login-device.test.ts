// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators (innerText is what a person sees), not DOM nodes
// `warden login --device` against a real oidc-provider (the device grant, the code entered on
// the issuer's page in Chromium), then the same stored token for `warden reviews list`; a
// revocation at the gateway is not got around by a refresh. (Code + PKCE: login.test.ts;
// cancel and timeout: login-cancel.test.ts.)
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { LoginRun, loginSuite } from './login-support.js';

describe('warden login --device, and a revocation', () => {
  const s = loginSuite();

  it('the device grant (--device): the code entered on the issuer page, then the same stored token', async () => {
    const run = new LoginRun(['--device', '--gateway', s.gw.apiUrl], s.env());
    const [, code] = await run.waitFor(/enter the code (\S+)/);
    const [, complete] = await run.waitFor(/\(or open (http\S+)\)/);
    assert.ok(complete!.includes(encodeURIComponent(code!)) || complete!.includes(code!));
    const page = await (await s.browser.newContext()).newPage();
    await page.goto(complete!);
    // oidc-provider's device pages: confirm the code shown, then its login and consent.
    await page.locator('button[type="submit"]', { hasText: /continue/i }).click();
    await s.signInAt(page, 'olga');
    await page
      .getByText(/sign-in complete|success/i)
      .first()
      .waitFor({ timeout: 15_000 });
    assert.equal(await run.exit, 0, run.stderr);
    s.printed.push(run.stdout, run.stderr);
    assert.equal((await stat(s.tokenFile())).mode & 0o777, 0o600);
    const stored = await s.readStored();
    s.remember(stored);
    const list = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(s.reviewId));

    // Revoked at the gateway: refused, and no refresh is tried to get around it.
    const admin = await s.gw.token('root', ['admins']);
    const revoke = await s.warden([
      'revoke',
      '--sub',
      'olga',
      '--issuer',
      s.idp.issuer,
      '--gateway',
      s.gw.apiUrl,
      '--token',
      admin,
    ]);
    assert.equal(revoke.code, 0, revoke.stderr);
    const refused = await s.warden(['reviews', 'list', '--gateway', s.gw.apiUrl]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /WARDEN_TOKEN_REVOKED/);
    assert.equal((await s.readStored()).refreshToken, stored.refreshToken, 'no refresh was attempted');
    assert.equal((await s.warden(['logout'])).code, 0);
  });

  it('no token was ever printed', () => {
    assert.ok(s.seenTokens.size >= 2, 'the tests saw the tokens they look for');
    const all = s.printed.join('\n');
    for (const t of s.seenTokens) assert.equal(all.includes(t), false, 'a token appeared in the CLI output');
  });
});
