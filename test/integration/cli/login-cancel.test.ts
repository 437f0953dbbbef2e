// `warden login` ended without a token: the person cancels at the issuer (real oidc-provider,
// Chromium), or never signs in (--timeout). Each says why, stores nothing, prints no token.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { LoginRun, loginSuite } from './login-support.js';

describe('warden login cancelled or timed out', () => {
  const s = loginSuite();

  it('a sign-in cancelled at the issuer, or never finished, ends the login with why and stores nothing', async () => {
    const cancelled = new LoginRun(['--gateway', s.gw.apiUrl], s.env());
    const [, authUrl] = await cancelled.waitFor(/^\s+(http\S+)$/m);
    const page = await (await s.browser.newContext()).newPage();
    await page.goto(authUrl!);
    await page.getByText('[ Cancel ]').click();
    await page.getByText('Sign-in failed; see the terminal.').waitFor({ timeout: 15_000 });
    assert.equal(await cancelled.exit, 1);
    assert.match(cancelled.stderr, /warden login: the issuer refused the sign-in: access_denied/);
    await assert.rejects(stat(s.tokenFile()), { code: 'ENOENT' });

    const abandoned = new LoginRun(['--gateway', s.gw.apiUrl, '--timeout', '2s'], s.env());
    assert.equal(await abandoned.exit, 1);
    assert.match(abandoned.stderr, /warden login: no sign-in within --timeout/);
    await assert.rejects(stat(s.tokenFile()), { code: 'ENOENT' });
    s.printed.push(cancelled.stdout, cancelled.stderr, abandoned.stdout, abandoned.stderr);
  });

  it('no token was printed', () => {
    const all = s.printed.join('\n');
    assert.doesNotMatch(all, /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/, 'no JWT in the CLI output');
  });
});
