// REST `exec` on an SSH connection: the command runs through the SSH engine in-process (a real
// ssh2 client over an in-memory stream, the gateway's own exec path), against Debian's sshd — so
// it is decided on its parsed programs, masked and recorded exactly as through `ssh`, and the
// answer carries the command's output, exit status and the verdict. The CLI, and approvals and
// revocations from other processes: in-process-cli.test.ts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_OUTPUT } from '../../../src/api/exec/ssh.js';
import { type SshGateway, ssh, startSshGateway } from './support.js';

const EMAIL = 'ann.customer@example.com';
const CARD = '4111 1111 1111 1111';

describe('REST exec and warden exec on an SSH connection (in-process through the SSH engine → sshd)', () => {
  let gw: SshGateway;
  let agent: string;
  let dba: string;

  before(async () => {
    gw = await startSshGateway();
    agent = await gw.token('inproc-agent', ['agents']);
    dba = await gw.token('inproc-dba', ['dba']);
    gw.target.direct(
      `mkdir -p ~/victim && touch ~/victim/keep && printf '%s,%s\\n' '${EMAIL}' '${CARD}' > ~/customers.csv`,
    );
  });
  after(() => gw?.stop());

  const exec = async (input: string, token = agent, connection = 'web-1') => {
    const r = await fetch(`${gw.running.apiUrl}/api/v1/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection, input }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  /** The recording of the session that ran operation `op` (the file that names it). */
  async function recordingWith(op: string): Promise<string> {
    const dir = join(gw.dir, 'recordings');
    for (let i = 0; i < 100; i++) {
      for (const f of await readdir(dir)) {
        const text = await readFile(join(dir, f), 'utf8');
        if (text.includes(op) && text.includes('session.end')) return text;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no recording holds ${op}`);
  }

  it('runs an allowed command: stdout, stderr, exit status, the verdict', async () => {
    const r = await exec('echo hi; echo oops >&2; exit 3');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.stdout, 'hi\n');
    assert.equal(r.body.stderr, 'oops\n');
    assert.equal(r.body.exitStatus, 3);
    assert.equal(r.body.outcome, 'error');
    assert.equal(r.body.message, 'exit status 3');
    const ok = await exec('uname -s | tr a-z A-Z');
    assert.equal(ok.body.outcome, 'ok');
    assert.equal(ok.body.exitStatus, 0);
    assert.equal(ok.body.stdout, 'LINUX\n');
    assert.ok(ok.body.operation, 'the operation id');
    // A command that reads stdin sees end of file at once (nothing hangs).
    assert.equal((await exec('cat; echo after')).body.stdout, 'after\n');
  });

  for (const line of [
    'rm -rf ~/victim',
    'bash -c "rm -rf ~/victim"',
    '$(echo rm) -rf ~/victim',
    `r''m -rf ~/victim`,
    'echo x | xargs rm -rf ~/victim',
    "sh -c 'cd ~ && \\rm -rf victim'",
    'echo fine\nrm -rf ~/victim',
    'true && { (cd ~; rm -rf victim); }',
  ]) {
    it(`blocks ${JSON.stringify(line)} on its parsed programs: outcome blocked, exit 126, nothing ran`, async () => {
      const r = await exec(line);
      assert.equal(r.status, 200);
      assert.equal(r.body.outcome, 'blocked', JSON.stringify(r.body));
      assert.equal(r.body.effect, 'block');
      assert.deepEqual(r.body.rules, ['no-rm']);
      assert.equal(r.body.exitStatus, 126);
      assert.match(r.body.message as string, /blocked by rule no-rm: deleting files is not allowed/);
      assert.equal(r.body.stdout, '');
      assert.ok(existsSync(`${gw.target.home}/victim/keep`), 'the victim survived');
    });
  }

  it('masks secrets in the output (and the recording); unmaskedFor sees clear values', async () => {
    const r = await exec('cat ~/customers.csv; cat ~/customers.csv >&2');
    assert.equal(r.body.outcome, 'ok', JSON.stringify(r.body));
    assert.equal(r.body.effect, 'mask');
    for (const out of [r.body.stdout as string, r.body.stderr as string]) {
      assert.ok(out.length > 10, 'something came back');
      assert.ok(!out.includes(EMAIL) && !out.includes(CARD), `clear value in ${out}`);
      assert.ok(!out.replace(/\D/g, '').includes(CARD.replace(/\D/g, '')), `card digits in ${out}`);
    }
    const rec = await recordingWith(r.body.operation as string);
    assert.ok(!rec.includes(EMAIL) && !rec.includes(CARD), 'the recording holds no clear value');
    // A value split across two writes of the command (two SSH data messages) is still caught.
    const split = await exec("printf 'ann.cust'; sleep 0.3; printf 'omer@example.com\\n'");
    assert.equal(split.body.effect, 'mask');
    assert.ok(!(split.body.stdout as string).includes(EMAIL), String(split.body.stdout));
    assert.match(split.body.stdout as string, /@example\.com/);
    const clear = await exec('cat ~/customers.csv', dba);
    assert.equal(clear.body.stdout, `${EMAIL},${CARD}\n`);
  });

  it('huge output is capped and the command stopped (an endless `yes` returns)', async () => {
    const r = await exec('yes 0123456789abcdef');
    assert.equal(r.body.truncated, true, JSON.stringify({ ...r.body, stdout: undefined }));
    assert.equal((r.body.stdout as string).length, MAX_OUTPUT);
    assert.equal(r.body.exitStatus, null);
    assert.equal(r.body.outcome, 'error');
    assert.match(r.body.message as string, /stopped/);
    // The gateway is fine afterwards.
    assert.equal((await exec('echo next')).body.stdout, 'next\n');
  });

  it('review without hold: outcome review with the id, exit 126, nothing ran', async () => {
    const r = await exec('reboot');
    assert.equal(r.body.outcome, 'review');
    assert.equal(r.body.exitStatus, 126);
    assert.match(String(r.body.reviewId), /\S+/);
    assert.match(r.body.message as string, /approval required: review/);
    assert.deepEqual(r.body.approvers, { groups: ['dba'], count: 1 });
  });

  it('a target that is down: outcome error with the reason, exit 255', async () => {
    const r = await exec('echo hi', agent, 'down-1');
    assert.equal(r.body.outcome, 'error');
    assert.equal(r.body.exitStatus, 255);
    assert.match(r.body.message as string, /target 'down-1' is unavailable/);
  });

  it('no grant, or an unknown connection: the API error, nothing ran', async () => {
    const stranger = await gw.token('inproc-stranger', ['nobody']);
    const r = await exec('touch ~/victim/stranger', stranger);
    assert.equal(r.status, 404, JSON.stringify(r.body));
    assert.equal((await exec('echo hi', agent, 'no-such-host')).status, 404);
    assert.ok(!existsSync(`${gw.target.home}/victim/stranger`));
  });

  it('the in-process login is never offered to the listener: ssh without a token is refused', async () => {
    const r = await ssh(gw, '', 'touch ~/victim/no-token', {
      extra: ['-o', 'PreferredAuthentications=none,publickey', '-o', 'BatchMode=yes'],
    });
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Permission denied/);
    assert.ok(!existsSync(`${gw.target.home}/victim/no-token`));
  });
});
