// Revoking a certificate's token (its key id) or its subject refuses it at login and cuts a live
// connection at its next operation; a connection ends with its certificate. The live connection is
// a real ssh ControlMaster; each `ssh -S` command through it is one operation on that session.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { type Issued, sshF } from './cert-support.js';
import { type SshGateway, startSshGateway } from './support.js';

describe('ssh certificates: revocation and expiry (real ssh → Warden → sshd)', () => {
  let gw: SshGateway;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let admin: string;
  /** `warden ssh-config --dir <templateDir>` output: each subject's config is it with its own directory. */
  let template: string;
  let templateDir: string;

  const masters: ChildProcess[] = [];

  before(async () => {
    gw = await startSshGateway();
    dir = await mkdtemp(join(tmpdir(), 'warden-ssh-cert-rev-'));
    admin = await gw.token('root', ['admins']);
    env = { WARDEN_GATEWAY: gw.running.apiUrl, WARDEN_HOME: join(dir, 'home') };
    gw.target.direct('mkdir -p ~/victim && touch ~/victim/keep');
    templateDir = join(dir, 'template');
    const r = await runWarden(['ssh-config', '--dir', templateDir], {
      env: { ...env, WARDEN_TOKEN: await gw.token('agent-0', ['agents']) },
    });
    assert.equal(r.code, 0, r.stderr);
    template = r.stdout;
  });
  after(async () => {
    for (const m of masters) m.kill();
    await gw?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A certificate and a config for a new subject of its own. */
  async function subject(sub: string, ttl = '15m') {
    const token = await gw.token(sub, ['agents']);
    const subEnv = { ...env, WARDEN_TOKEN: token };
    const certs = join(dir, sub);
    const r = await runWarden(['ssh-cert', '--json', '--ttl', ttl, '--out', certs], { env: subEnv });
    assert.equal(r.code, 0, r.stderr);
    const cfg = join(dir, `${sub}_config`);
    // One `warden ssh-config` run for all (each CLI start is slow on a busy machine): the same
    // blocks with this subject's directory, and the known_hosts it wrote, copied.
    await writeFile(cfg, template.replaceAll(templateDir, certs));
    await copyFile(join(templateDir, 'known_hosts'), join(certs, 'known_hosts'));
    return { env: subEnv, certs, cfg, issued: JSON.parse(r.stdout) as Issued };
  }

  /** One SSH connection held open (ControlMaster -N); each `ssh -S` command is an operation on it. */
  async function hold(cfg: string, name: string) {
    const control = join(dir, `${name}.sock`);
    const mux = ['-o', `ControlPath=${control}`];
    const master = spawn('ssh', ['-F', cfg, '-o', 'BatchMode=yes', '-o', 'ControlMaster=yes', ...mux, '-N', 'web-1'], {
      stdio: 'ignore',
    });
    masters.push(master);
    const closed = new Promise((resolve) => master.once('close', resolve));
    for (let i = 0; i < 200 && !existsSync(control); i++) await new Promise((res) => setTimeout(res, 50));
    return { mux, closed };
  }

  /** The audited end of the subject's session (written as the gateway closes it, just after the disconnect). */
  async function sessionEnd(sub: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const ends = await gw.running.gateway.audit.list({ type: 'session.end', limit: 1000 });
      const end = ends.find((e) => e.actor === sub);
      if (end) return String((end.data as { reason?: string }).reason);
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.fail(`no session.end for ${sub}`);
  }

  it("a revoked token's certificate is refused at login, and a live session is cut at its next operation", async () => {
    const s = await subject('agent-rev');
    const { mux, closed } = await hold(s.cfg, 'rev');
    const first = await sshF(s.cfg, [...mux, 'web-1', 'echo one']);
    assert.equal(first.stdout, 'one\n', first.stderr);

    const rev = await runWarden(['revoke', '--token-id', s.issued.keyId, '--reason', 'test'], {
      env: { ...env, WARDEN_TOKEN: admin },
    });
    assert.equal(rev.code, 0, rev.stderr);

    const next = await sshF(s.cfg, [...mux, 'web-1', 'touch ~/victim/after-revoke']);
    // The refusal (exit 126 on the channel) and the disconnect arrive together; ssh's mux
    // master exits on the disconnect before it relays them, so its client reports 255.
    assert.notEqual(next.status, 0);
    await closed; // the gateway ended the connection
    assert.ok(!existsSync(`${gw.target.home}/victim/after-revoke`), 'the command never ran');
    assert.match(await sessionEnd('agent-rev'), /revoked/);

    const again = await sshF(s.cfg, ['web-1', 'echo again']);
    assert.equal(again.status, 255);
    assert.match(again.stderr, /Permission denied/);
    // Minting a new certificate with the revoked token is refused by the API.
    const mint = await runWarden(['ssh-cert', '--out', s.certs], { env: s.env });
    assert.equal(mint.code, 1);
    assert.match(mint.stderr, /revoked/);
  });

  it('a live session ends with its certificate', async () => {
    const s = await subject('agent-exp', '10s');
    const { mux, closed } = await hold(s.cfg, 'exp');
    const first = await sshF(s.cfg, [...mux, 'web-1', 'echo one']);
    assert.equal(first.stdout, 'one\n', first.stderr);
    while (Date.now() <= s.issued.validBefore + 200) await new Promise((res) => setTimeout(res, 250));
    const next = await sshF(s.cfg, [...mux, 'web-1', 'touch ~/victim/after-expiry']);
    assert.notEqual(next.status, 0);
    await closed;
    assert.ok(!existsSync(`${gw.target.home}/victim/after-expiry`), 'the command never ran');
    assert.match(await sessionEnd('agent-exp'), /expired/);
  });

  it('revoking the subject refuses its certificates too', async () => {
    const s = await subject('agent-sub');
    assert.equal((await sshF(s.cfg, ['web-1', 'echo ok'])).stdout, 'ok\n');
    const res = await fetch(`${gw.running.apiUrl}/api/v1/revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'agent-sub', reason: 'test' }),
    });
    assert.equal(res.status, 201);
    const run = await sshF(s.cfg, ['web-1', 'echo no']);
    assert.equal(run.status, 255);
    assert.match(run.stderr, /Permission denied/);
  });
});
