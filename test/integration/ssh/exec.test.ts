// exec through the gateway with the real OpenSSH client against Debian's sshd: each command
// decided on its parsed programs before it runs, refusals as exit 126 with the rule on stderr.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditOf, eventually, recordingOf } from '../../conformance/control.js';
import { SSH_OPTIONS, type SshGateway, ssh, startSshGateway } from './support.js';

describe('ssh exec through the gateway (real ssh → Warden → sshd)', () => {
  let gw: SshGateway;
  let agent: string;

  before(async () => {
    gw = await startSshGateway();
    agent = await gw.token('agent-1', ['agents']);
    gw.target.direct('mkdir -p ~/victim && touch ~/victim/keep');
  });
  after(() => gw?.stop());

  it('runs an allowed command: echo hi → hi, exit 0', async () => {
    const r = await ssh(gw, agent, 'echo hi');
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'hi\n');
    assert.equal(r.status, 0);
  });

  it('passes the exit status and stdin through, runs pipes', async () => {
    assert.equal((await ssh(gw, agent, 'exit 3')).status, 3);
    const r = await ssh(gw, agent, 'tr a-z A-Z | wc -c', { input: 'hello\n' });
    assert.equal(r.stdout.trim(), '6');
    assert.equal(r.status, 0);
    const e = await ssh(gw, agent, 'echo oops >&2; ls / | head -1');
    assert.equal(e.stderr, 'oops\n');
  });

  for (const line of [
    'rm -rf ~/victim',
    'bash -c "rm -rf ~/victim"',
    'echo x | xargs rm -rf ~/victim',
    '$(echo rm) -rf ~/victim',
    `r''m -rf ~/victim`,
    'find ~/victim -exec rm -rf {} +',
    'sudo -u root nohup /bin/rm -rf ~/victim',
    'echo "unterminated',
  ]) {
    it(`blocks ${JSON.stringify(line)}: exit 126, rule named, ~/victim still there`, async () => {
      const r = await ssh(gw, agent, line);
      assert.equal(r.status, 126);
      assert.match(r.stderr, /warden: blocked by rule (no-rm|unparsed-command)/);
      assert.equal(r.stdout, '');
      assert.ok(existsSync(`${gw.target.home}/victim/keep`), 'the victim survived');
    });
  }

  it('review without hold: the review id on stderr, exit 126', async () => {
    const r = await ssh(gw, agent, 'reboot');
    assert.equal(r.status, 126);
    assert.match(r.stderr, /approval required: review \S+/);
  });

  it('a bad token is refused with the reason, nothing runs', async () => {
    // The reason travels as the keyboard-interactive instruction, which ssh shows at LogLevel INFO.
    const r = await ssh(gw, 'not-a-token', 'touch ~/victim/bad-token', { extra: ['-o', 'LogLevel=INFO'] });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /warden: /);
    assert.ok(!existsSync(`${gw.target.home}/victim/bad-token`));
  });

  it('a target that is down: a clear error, exit 255, other sessions unaffected', async () => {
    const r = await ssh(gw, agent, 'echo hi', { connection: 'down-1' });
    assert.equal(r.status, 255);
    // Said at login (SSH_MSG_DISCONNECT, reason 7 "service not available"), before any command.
    assert.match(r.stderr, /Received disconnect from \S+ port \d+:7: warden: target 'down-1' is unavailable/);
    assert.equal((await ssh(gw, agent, 'echo still')).stdout, 'still\n');
  });

  it('a wrong target host key refuses the session with both fingerprints', async () => {
    const r = await ssh(gw, agent, 'touch ~/victim/wrong-key', { connection: 'wrongkey-1' });
    assert.equal(r.status, 255);
    assert.match(
      r.stderr,
      new RegExp(`presented host key ${gw.target.hostKey.replace(/[+/]/g, '\\$&')}, not the configured SHA256:A+`),
    );
    assert.ok(!existsSync(`${gw.target.home}/victim/wrong-key`));
  });

  it('a client killed mid-output: its command and session end are audited, the recording parses, others are served', async () => {
    const sub = 'agent-vanishing';
    const token = await gw.token(sub, ['agents']);
    const child = spawn(
      'sshpass',
      ['-e', 'ssh', ...SSH_OPTIONS, '-p', String(gw.sshPort), 'web-1@127.0.0.1', 'seq 1 50000000'],
      { env: { ...process.env, SSHPASS: token }, stdio: ['ignore', 'pipe', 'ignore'], detached: true },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    // sshpass and its ssh together, mid-stream: no goodbye on the wire.
    process.kill(-child.pid!, 'SIGKILL');
    const started = gw.running.apiUrl;
    const admin = await gw.token('admin-1', ['admins']);
    const control = { apiUrl: started, recordingsDir: join(gw.dir, 'recordings') };
    const op = await eventually(async () => (await auditOf(control, admin, sub))[0], 'the command audited');
    assert.equal(op.data.effect, 'mask', 'agents run under masking');
    assert.match(String(op.data.text), /seq 1 50000000/);
    const end = await eventually(
      async () => (await auditOf(control, admin, sub, { type: 'session.end' })).find((e) => e.session === op.session),
      'the session end audited',
    );
    assert.match(JSON.stringify(end.data), /disconnect|closed/i);
    const text = await recordingOf(control, op.session!, (t) => t.includes('"session.end"'));
    const events = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type?: string });
    assert.ok(
      events.some((e) => e.type === 'operation' && (e as { kind?: string }).kind === 'command'),
      'the command is in the recording',
    );
    assert.equal(events.at(-1)?.type, 'session.end');
    assert.equal((await ssh(gw, agent, 'echo still')).stdout, 'still\n');
  });
});
