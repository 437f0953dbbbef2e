// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright locators (innerText is what a person sees), not DOM nodes
// Terminal replay in the console: a pty shell recorded by the real gateway (real `ssh -tt` →
// Warden → Debian's sshd, as in test/integration/ssh/shell.test.ts) plays in asciinema-player
// on the session page in real headless Chromium, under the console's CSP (no violation, no
// script error); the terminal shows what the agent saw, masked (the address in the file never
// appears), and the decided lines are listed below the player with their effects.
// WARDEN_CONSOLE_SCREENSHOTS=<dir> saves the README's terminal replay screenshot there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { SSH_OPTIONS, type SshGateway, startSshGateway } from '../ssh/support.js';

const SHOTS = process.env.WARDEN_CONSOLE_SCREENSHOTS;

/** One pty session through the gateway, each line typed once the prompt is back. */
async function shellSession(gw: SshGateway, token: string, lines: [string, RegExp][]): Promise<string> {
  const child = spawn('sshpass', ['-e', 'ssh', '-tt', ...SSH_OPTIONS, '-p', String(gw.sshPort), 'web-1@127.0.0.1'], {
    env: { ...process.env, SSHPASS: token },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  child.stdout.on('data', (d) => (screen += String(d)));
  child.stderr.on('data', (d) => (screen += String(d)));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const until = async (re: RegExp) => {
    for (let i = 0; i < 300 && !re.test(screen); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(screen, re);
  };
  await until(/\$ $/);
  for (const [line, expect] of lines) {
    const seen = screen.length;
    child.stdin.write(`${line}\r`);
    for (let i = 0; i < 300 && !expect.test(screen.slice(seen)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(screen.slice(seen), expect);
  }
  child.stdin.write('exit\r');
  assert.equal(await closed, 0, screen);
  return screen;
}

describe('terminal replay in the console (asciinema-player, Chromium)', () => {
  let gw: SshGateway;

  before(async () => {
    gw = await startSshGateway();
    writeFileSync(join(gw.target.home, 'contacts.txt'), 'on call: alice@example.com\n', { mode: 0o644 });
  });
  after(() => gw?.stop());

  it('a recorded SSH shell plays in the session page, masked, with its decided lines', async () => {
    const agent = await gw.token('agent-tty', ['agents']);
    const screen = await shellSession(gw, agent, [
      ['echo replay-$((6*7))', /replay-42[\s\S]*\$ $/],
      ['rm -rf ~/nothing', /blocked by rule no-rm[\s\S]*\$ $/],
      ['cat ~/contacts.txt', /on call: \S+[\s\S]*\$ $/],
    ]);
    assert.doesNotMatch(screen, /alice@example\.com/);

    // The session, as an admin finds it through the API (its recording is closed at session end).
    const admin = await gw.token('root', ['admins']);
    const api = async (path: string) =>
      fetch(`${gw.running.apiUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${admin}` } });
    let id = '';
    for (let i = 0; i < 100 && !id; i++) {
      const { sessions } = (await (await api('/sessions?limit=50')).json()) as {
        sessions: { id: string; sub: string; format?: string; endedAt?: number | null }[];
      };
      id = sessions.find((s) => s.sub === 'agent-tty' && s.format === 'asciicast' && s.endedAt)?.id ?? '';
      if (!id) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(id, 'the shell session is recorded as asciicast');

    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(m.text());
      });
      await page.goto(gw.running.apiUrl);
      await page.getByLabel('Name').fill('root');
      await page.getByLabel('Groups (comma-separated)').fill('admins');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByTestId('who').waitFor();
      await page.goto(`${gw.running.apiUrl}/#/sessions/${encodeURIComponent(id)}`);

      // asciinema-player mounts its terminal and plays the recording (idle time capped at 1 s).
      const player = page.getByTestId('player');
      const term = player.locator('.ap-term');
      await term.waitFor({ timeout: 20_000 });
      let text = '';
      for (let i = 0; i < 200 && !/on call: \S+/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 100));
        text = await term.innerText();
      }
      assert.match(text, /replay-42/, 'the terminal shows the output as the agent saw it');
      assert.match(text, /warden: blocked by rule no-rm/);
      assert.match(text, /on call: \S+/);
      assert.doesNotMatch(text, /alice@example\.com/, 'masked as it was recorded');
      assert.doesNotMatch(await page.content(), /alice@example\.com/);

      const timeline = await page.getByTestId('timeline').innerText();
      // (badges are upper-cased by the style sheet)
      assert.match(timeline, /block no-rm\s+rm -rf ~\/nothing\s+blocked by rule no-rm/i);
      assert.match(timeline, /mask\s+echo replay-\$\(\(6\*7\)\)/i);
      if (SHOTS) {
        await mkdir(SHOTS, { recursive: true });
        await player.hover(); // the control bar, with the decided lines as markers
        await page.screenshot({ path: join(SHOTS, 'console-replay.png'), fullPage: true });
      }
      // A decided line seeks the player to it: the screen goes back to before the later output.
      await page
        .getByTestId('timeline')
        .getByRole('button', { name: /^Seek to/ })
        .nth(1)
        .click();
      for (let i = 0; i < 100 && /on call/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 100));
        text = await term.innerText();
      }
      assert.doesNotMatch(text, /on call/, 'seeking back shows the screen at that line');

      assert.deepEqual(problems, [], 'no script error or CSP violation');
    } finally {
      await browser.close();
    }
  });
});
