// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators (innerText is what a person sees), not DOM nodes
// `warden login` / `warden logout` against a real oidc-provider (the console's issuer, found
// through the gateway's /console/config.json), the sign-in done by a person in real headless
// Chromium on the issuer's own login and consent pages: the authorization code + PKCE grant
// with a loopback redirect, and the device grant. The stored token (0600 in a 0700 directory,
// never printed) is what `warden reviews list` uses; an expired one is refreshed at the issuer;
// a file others may read is refused; the token is not sent to another gateway; logout revokes
// the refresh token at the issuer and forgets the file.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { runWarden, WARDEN_BIN } from '../../helpers/cli.js';
import { startShopPostgres, startTestGateway, TEST_ACCESS, type TestGateway } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import {
  CLI_CLIENT,
  CONSOLE_CLIENT,
  CONSOLE_RESOURCE,
  type ConsoleIssuer,
  startConsoleIssuer,
} from '../console/oidc-provider.js';
import { connect, expectReview } from '../postgres-approvals/helpers.js';

const POLICY = `${TEST_ACCESS}rules:
  - name: deletes-need-review
    groups: [agents]
    when: op.kind == 'sql' && op.sql.kinds.exists(k, k == 'delete')
    action: review
    approvers: { groups: [dba], count: 1 }
    message: deletes need a DBA
`;

interface Stored {
  gateway: string;
  issuer: string;
  clientId: string;
  accessToken: string;
  refreshToken?: string;
  expiresAt: number | null;
  sub?: string;
}

/** `warden login` as a child, its stderr readable while it waits for the browser. */
class LoginRun {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exit: Promise<number | null>;
  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [WARDEN_BIN, 'login', ...args], {
      env: { ...process.env, WARDEN_TOKEN: '', WARDEN_GATEWAY: '', NO_COLOR: '1', ...env },
    });
    this.child.stdout.on('data', (d) => (this.stdout += d));
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.stdin.end();
    this.exit = new Promise((r) => this.child.on('close', (code) => r(code)));
  }
  async waitFor(re: RegExp): Promise<RegExpExecArray> {
    for (let i = 0; i < 600; i++) {
      const m = re.exec(this.stderr);
      if (m) return m;
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`warden login never printed ${re}: ${this.stderr}`);
  }
}

describe('warden login / logout against a real oidc-provider', () => {
  let idp: ConsoleIssuer;
  let target: TestPostgres;
  let gw: TestGateway;
  let browser: Browser;
  let home: string;
  let reviewId: string;
  /** Everything the CLI printed, to check no token ever shows up in it. */
  const printed: string[] = [];
  const seenTokens = new Set<string>();

  const env = () => ({ WARDEN_HOME: home, WARDEN_TOKEN: '' });
  const tokenFile = () => join(home, 'token.json');
  const readStored = async (): Promise<Stored> => JSON.parse(await readFile(tokenFile(), 'utf8')) as Stored;
  const remember = (s: Stored) => {
    seenTokens.add(s.accessToken);
    if (s.refreshToken) seenTokens.add(s.refreshToken);
  };
  const warden = async (args: string[]) => {
    const r = await runWarden(args, { env: env() });
    printed.push(r.stdout, r.stderr);
    return r;
  };

  before(async () => {
    idp = await startConsoleIssuer();
    target = await startShopPostgres();
    gw = await startTestGateway(target, {
      policy: POLICY,
      issuers: [idp.issuer],
      extraYaml: `console:\n  issuer: ${idp.issuer}\n  clientId: ${CONSOLE_CLIENT}\n  cliClientId: ${CLI_CLIENT}\n  resource: ${CONSOLE_RESOURCE}\n`,
    });
    await idp.attach(`${gw.apiUrl}/`, (login) => (login === 'olga' ? ['dba'] : []));
    home = join(await mkdtemp(join(tmpdir(), 'warden-login-')), '.warden');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    // A review waiting for a DBA: what olga should see once signed in.
    const agent = await connect(gw, await gw.token('agent-cli', ['agents']));
    try {
      reviewId = await expectReview(agent, "DELETE FROM orders WHERE status = 'stale'");
    } finally {
      await agent.end();
    }
  });
  after(async () => {
    await browser?.close();
    await gw?.stop();
    await target?.stop();
    await idp?.stop();
    if (home) await rm(join(home, '..'), { recursive: true, force: true });
  });

  /** oidc-provider's development login (any name signs in), then its consent page. */
  async function signInAt(page: Page, login: string): Promise<void> {
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"]').click();
    const consent = page.locator('button[type="submit"]', { hasText: /continue/i });
    await consent.waitFor({ timeout: 15_000 });
    await consent.click();
  }

  it('code + PKCE via the loopback redirect: the stored token (0600) is what `warden reviews list` uses', async () => {
    const run = new LoginRun(['--gateway', gw.apiUrl], env());
    const [, authUrl] = await run.waitFor(/^\s+(http\S+)$/m);
    const auth = new URL(authUrl!);
    assert.equal(auth.origin, idp.issuer);
    assert.equal(auth.searchParams.get('client_id'), CLI_CLIENT);
    assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
    const redirect = new URL(auth.searchParams.get('redirect_uri')!);
    assert.equal(redirect.hostname, '127.0.0.1');

    // A local process guessing at the listener gets nothing and ends nothing.
    const forged = await fetch(`${redirect.href}?code=forged&state=not-ours`);
    assert.equal(forged.status, 400);
    assert.equal(run.child.exitCode, null, 'a wrong state does not end the sign-in');

    const page = await (await browser.newContext()).newPage();
    await page.goto(auth.href);
    await signInAt(page, 'olga');
    await page.getByText('Signed in to Warden').waitFor({ timeout: 15_000 });
    assert.equal(await run.exit, 0, run.stderr);
    printed.push(run.stdout, run.stderr);
    assert.match(run.stderr, /signed in as olga at http:\/\/127\.0\.0\.1:\d+; token kept in .*token\.json/);

    assert.equal((await stat(home)).mode & 0o777, 0o700);
    assert.equal((await stat(tokenFile())).mode & 0o777, 0o600);
    const stored = await readStored();
    remember(stored);
    assert.equal(stored.gateway, gw.apiUrl);
    assert.equal(stored.clientId, CLI_CLIENT);
    assert.ok(stored.refreshToken, 'offline_access gave a refresh token');
    assert.ok(stored.expiresAt && stored.expiresAt > Date.now());

    const list = await warden(['reviews', 'list', '--gateway', gw.apiUrl]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(`${reviewId}\\s+pending\\s+agent-cli`),
      'as a DBA she sees the pending review',
    );
    const show = await warden(['reviews', 'show', reviewId, '--gateway', gw.apiUrl]);
    assert.equal(show.code, 0, show.stderr);

    // Never sent to a gateway it was not obtained for.
    const other = await warden(['reviews', 'list', '--gateway', 'http://127.0.0.1:9']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /signed in at http:\/\/127\.0\.0\.1:\d+, not http:\/\/127\.0\.0\.1:9/);
  });

  it('an expired token is refreshed at the issuer (rotated, stored 0600 again); a refused refresh says to sign in', async () => {
    const before = await readStored();
    await writeFile(tokenFile(), JSON.stringify({ ...before, expiresAt: Date.now() - 1000 }));
    const list = await warden(['reviews', 'list', '--gateway', gw.apiUrl]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(reviewId));
    const after = await readStored();
    remember(after);
    assert.notEqual(after.accessToken, before.accessToken, 'a new access token');
    assert.ok(after.refreshToken && after.refreshToken !== before.refreshToken, 'the refresh token rotated');
    assert.ok(after.expiresAt && after.expiresAt > Date.now());
    assert.equal((await stat(tokenFile())).mode & 0o777, 0o600);

    // The old (rotated-away) refresh token is refused by the issuer: a clear way out, no token shown.
    await writeFile(
      tokenFile(),
      JSON.stringify({ ...after, expiresAt: Date.now() - 1000, refreshToken: before.refreshToken }),
    );
    const refused = await warden(['reviews', 'list', '--gateway', gw.apiUrl]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /your sign-in has expired and the issuer refused to refresh it \(invalid_grant.*run warden login/,
    );
    await writeFile(tokenFile(), JSON.stringify(after));
  });

  it('an expired token without a refresh token, and a file warden did not write, say to sign in again', async () => {
    const saved = await readFile(tokenFile(), 'utf8');
    const { refreshToken: _r, ...rest } = JSON.parse(saved) as Stored;
    await writeFile(tokenFile(), JSON.stringify({ ...rest, expiresAt: Date.now() - 1000 }));
    const expired = await warden(['reviews', 'list', '--gateway', gw.apiUrl]);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /your sign-in has expired and cannot be refreshed: run warden login/);
    await writeFile(tokenFile(), '{"accessToken": 42');
    const garbage = await warden(['reviews', 'list', '--gateway', gw.apiUrl]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /token\.json is not a token file warden wrote: run warden login again/);
    await writeFile(tokenFile(), saved);
  });

  it('a token file others may read is not used', async () => {
    await chmod(tokenFile(), 0o644);
    const r = await warden(['reviews', 'list', '--gateway', gw.apiUrl]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /token\.json is open to other users \(mode 0644\); not using it/);
    await chmod(tokenFile(), 0o600);
    assert.equal((await warden(['reviews', 'list', '--gateway', gw.apiUrl])).code, 0);
  });

  it('logout revokes the refresh token at the issuer and forgets the file', async () => {
    const stored = await readStored();
    const r = await warden(['logout']);
    assert.equal(r.code, 0, r.stderr);
    // oidc-provider revokes the refresh token; its JWT access tokens cannot be revoked, and the CLI says until when one stays valid.
    assert.match(
      r.stderr,
      /forgot .*token\.json; refresh token revoked at the issuer; the issuer cannot revoke the access token: it stays valid until \d{4}-/,
    );
    await assert.rejects(stat(tokenFile()), { code: 'ENOENT' });
    // The issuer itself no longer honours the refresh token.
    const refresh = await fetch(`${idp.issuer}/token`, {
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
    const list = await warden(['reviews', 'list', '--gateway', gw.apiUrl]);
    assert.equal(list.code, 2);
    assert.match(list.stderr, /no token: run warden login/);
    assert.match((await warden(['logout'])).stderr, /not signed in/);
  });

  it('the device grant (--device): the code entered on the issuer page, then the same stored token', async () => {
    const run = new LoginRun(['--device', '--gateway', gw.apiUrl], env());
    const [, code] = await run.waitFor(/enter the code (\S+)/);
    const [, complete] = await run.waitFor(/\(or open (http\S+)\)/);
    assert.ok(complete!.includes(encodeURIComponent(code!)) || complete!.includes(code!));
    const page = await (await browser.newContext()).newPage();
    await page.goto(complete!);
    // oidc-provider's device pages: confirm the code shown, then its login and consent.
    await page.locator('button[type="submit"]', { hasText: /continue/i }).click();
    await signInAt(page, 'olga');
    await page
      .getByText(/sign-in complete|success/i)
      .first()
      .waitFor({ timeout: 15_000 });
    assert.equal(await run.exit, 0, run.stderr);
    printed.push(run.stdout, run.stderr);
    assert.equal((await stat(tokenFile())).mode & 0o777, 0o600);
    const stored = await readStored();
    remember(stored);
    const list = await warden(['reviews', 'list', '--gateway', gw.apiUrl]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(reviewId));
    assert.equal((await warden(['logout'])).code, 0);
  });

  it('a sign-in cancelled at the issuer, or never finished, ends the login with why and stores nothing', async () => {
    const cancelled = new LoginRun(['--gateway', gw.apiUrl], env());
    const [, authUrl] = await cancelled.waitFor(/^\s+(http\S+)$/m);
    const page = await (await browser.newContext()).newPage();
    await page.goto(authUrl!);
    await page.getByText('[ Cancel ]').click();
    await page.getByText('Sign-in failed; see the terminal.').waitFor({ timeout: 15_000 });
    assert.equal(await cancelled.exit, 1);
    assert.match(cancelled.stderr, /warden login: the issuer refused the sign-in: access_denied/);
    await assert.rejects(stat(tokenFile()), { code: 'ENOENT' });

    const abandoned = new LoginRun(['--gateway', gw.apiUrl, '--timeout', '2s'], env());
    assert.equal(await abandoned.exit, 1);
    assert.match(abandoned.stderr, /warden login: no sign-in within --timeout/);
    await assert.rejects(stat(tokenFile()), { code: 'ENOENT' });
    printed.push(cancelled.stdout, cancelled.stderr, abandoned.stdout, abandoned.stderr);
  });

  it('no token was ever printed', () => {
    assert.ok(seenTokens.size >= 4);
    const all = printed.join('\n');
    for (const t of seenTokens) assert.equal(all.includes(t), false, 'a token appeared in the CLI output');
  });
});
