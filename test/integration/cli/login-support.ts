// The fixture of the `warden login` tests: a real oidc-provider as the console's issuer (with the
// CLI's native client), a gateway that names it in `console`, a review waiting for a DBA, a
// Chromium to sign in with, a WARDEN_HOME of its own, and a record of everything the CLI printed
// (so a test can check no token ever shows up in it).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type CliResult, runWarden, WARDEN_BIN } from '../../helpers/cli.js';
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

export interface Stored {
  gateway: string;
  issuer: string;
  clientId: string;
  accessToken: string;
  refreshToken?: string;
  expiresAt: number | null;
  sub?: string;
}

/** `warden login` as a child, its stderr readable while it waits for the browser. */
export class LoginRun {
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

export interface LoginSuite {
  idp: ConsoleIssuer;
  gw: TestGateway;
  browser: Browser;
  home: string;
  /** A review pending for a DBA (olga is one at the issuer). */
  reviewId: string;
  /** Everything the CLI printed. */
  printed: string[];
  /** Every token the tests saw stored. */
  seenTokens: Set<string>;
  env(): NodeJS.ProcessEnv;
  tokenFile(): string;
  readStored(): Promise<Stored>;
  remember(s: Stored): void;
  warden(args: string[]): Promise<CliResult>;
  /** oidc-provider's development login (any name signs in), then its consent page. */
  signInAt(page: Page, login: string): Promise<void>;
  /** A whole `warden login` (code + PKCE) as `login`, the browser part in Chromium. */
  login(login: string): Promise<LoginRun>;
}

/** Registers the suite's before/after hooks; the fields are filled in `before`. */
export function loginSuite(): LoginSuite {
  let target: TestPostgres;
  const suite = {
    printed: [] as string[],
    seenTokens: new Set<string>(),
    env: () => ({ WARDEN_HOME: suite.home, WARDEN_TOKEN: '' }),
    tokenFile: () => join(suite.home, 'token.json'),
    readStored: async () => JSON.parse(await readFile(suite.tokenFile(), 'utf8')) as Stored,
    remember: (s: Stored) => {
      suite.seenTokens.add(s.accessToken);
      if (s.refreshToken) suite.seenTokens.add(s.refreshToken);
    },
    warden: async (args: string[]) => {
      const r = await runWarden(args, { env: suite.env() });
      suite.printed.push(r.stdout, r.stderr);
      return r;
    },
    signInAt: async (page: Page, login: string) => {
      await page.locator('input[name="login"]').fill(login);
      await page.locator('input[name="password"]').fill('anything');
      await page.locator('button[type="submit"]').click();
      const consent = page.locator('button[type="submit"]', { hasText: /continue/i });
      await consent.waitFor({ timeout: 15_000 });
      await consent.click();
    },
    login: async (login: string) => {
      const run = new LoginRun(['--gateway', suite.gw.apiUrl], suite.env());
      const [, authUrl] = await run.waitFor(/^\s+(http\S+)$/m);
      const page = await (await suite.browser.newContext()).newPage();
      await page.goto(authUrl!);
      await suite.signInAt(page, login);
      await page.getByText('Signed in to Warden').waitFor({ timeout: 30_000 });
      const code = await run.exit;
      suite.printed.push(run.stdout, run.stderr);
      if (code !== 0) throw new Error(`warden login failed: ${run.stderr}`);
      suite.remember(await suite.readStored());
      return run;
    },
  } as unknown as LoginSuite;

  before(async () => {
    suite.idp = await startConsoleIssuer();
    target = await startShopPostgres();
    suite.gw = await startTestGateway(target, {
      policy: POLICY,
      issuers: [suite.idp.issuer],
      extraYaml: `console:\n  issuer: ${suite.idp.issuer}\n  clientId: ${CONSOLE_CLIENT}\n  cliClientId: ${CLI_CLIENT}\n  resource: ${CONSOLE_RESOURCE}\n`,
    });
    await suite.idp.attach(`${suite.gw.apiUrl}/`, (login) => (login === 'olga' ? ['dba'] : []));
    suite.home = join(await mkdtemp(join(tmpdir(), 'warden-login-')), '.warden');
    suite.browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    const agent = await connect(suite.gw, await suite.gw.token('agent-cli', ['agents']));
    try {
      suite.reviewId = await expectReview(agent, "DELETE FROM orders WHERE status = 'stale'");
    } finally {
      await agent.end();
    }
  });
  after(async () => {
    await suite.browser?.close();
    await suite.gw?.stop();
    await target?.stop();
    await suite.idp?.stop();
    if (suite.home) await rm(join(suite.home, '..'), { recursive: true, force: true });
  });
  return suite;
}
