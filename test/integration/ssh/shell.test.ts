// A pty shell through the gateway, driven by the real `ssh -tt`: the shell is a `session`
// operation, each line is decided at Enter (an allowed line runs, a blocked one never reaches the
// host), the output is masked, and the recording is an asciicast v2 file holding no clear value.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { SSH_OPTIONS, type SshGateway, startSshGateway } from './support.js';

describe('ssh pty shell through the gateway (real ssh -tt → Warden → sshd)', () => {
  let gw: SshGateway;
  let agent: string;

  before(async () => {
    gw = await startSshGateway();
    agent = await gw.token('agent-1', ['agents']);
    gw.target.direct('mkdir -p ~/victim && touch ~/victim/keep');
    writeFileSync(join(gw.target.home, 'secrets.txt'), 'contact alice@example.com\n', { mode: 0o644 });
  });
  after(() => gw?.stop());

  it('runs allowed lines, refuses a blocked one before it reaches the host, records asciicast', async () => {
    const child = spawn('sshpass', ['-e', 'ssh', '-tt', ...SSH_OPTIONS, '-p', String(gw.sshPort), 'web-1@127.0.0.1'], {
      env: { ...process.env, SSHPASS: agent },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    const waiters: { re: RegExp; resolve: () => void }[] = [];
    const onData = (d: Buffer) => {
      screen += String(d);
      for (const w of waiters.splice(0))
        if (w.re.test(screen)) w.resolve();
        else waiters.push(w);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // A step that never comes fails with the screen so far (not the 180 s file timeout).
    const until = (re: RegExp) =>
      re.test(screen)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`waiting for ${re}; screen: ${JSON.stringify(screen)}`)),
              15_000,
            );
            waiters.push({
              re,
              resolve: () => {
                clearTimeout(timer);
                resolve();
              },
            });
          });
    const closed = new Promise<number | null>((r) => child.on('close', r));

    // Each line is typed once the prompt is back, as a person would (type-ahead is best effort).
    await until(/\$ $/);
    child.stdin.write('echo allowed-$((6*7))\r');
    await until(/allowed-42[\s\S]*\$ $/);
    child.stdin.write('rm -rf ~/victim\r');
    await until(/warden: blocked by rule no-rm[\s\S]*\$ $/);
    child.stdin.write('cat ~/secrets.txt\r');
    await until(/contact \S+@example\.com[\s\S]*\$ $/);
    child.stdin.write('exit\r');
    const status = await closed;
    assert.equal(status, 0, screen);
    assert.ok(existsSync(`${gw.target.home}/victim/keep`), 'the blocked line never ran');
    assert.doesNotMatch(screen, /alice@example\.com/);

    const dir = join(gw.dir, 'recordings');
    const casts = readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.cast'));
    assert.equal(casts.length, 1);
    const lines = readFileSync(join(dir, casts[0]!), 'utf8').trim().split('\n');
    const header = JSON.parse(lines[0]!);
    assert.equal(header.version, 2);
    assert.ok(header.width > 0 && header.height > 0);
    let last = 0;
    const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    for (const [t, code, data] of events) {
      assert.ok(t >= last, 'times ascend');
      last = t;
      assert.ok(['o', 'i', 'm', 'r'].includes(code));
      assert.equal(typeof data, 'string');
    }
    const text = events.map((e) => e[2]).join('');
    assert.match(text, /allowed-42/);
    assert.match(text, /"text":"rm -rf ~\/victim","effect":"block"/);
    assert.doesNotMatch(text, /alice@example\.com/);

    // `warden replay` plays it in the terminal.
    const session = header.warden.session as string;
    const admin = await gw.token('root', ['admins']);
    const replay = await runWarden([
      'replay',
      session,
      '--gateway',
      gw.running.apiUrl,
      '--token',
      admin,
      '--max-idle',
      '0.01',
    ]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /allowed-42/);
  });
});
