// Debian's sshd as an SSH target for the tests: its own config and host key in a temp dir, on a
// free loopback port, a test user (created with useradd, password locked so only key login
// works) with an authorized ed25519 key. stop() kills sshd and removes the user.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/gateway/index.js';

export interface TestSshd {
  port: number;
  user: string;
  home: string;
  /** The target's host key fingerprint (`SHA256:…`). */
  hostKey: string;
  /** The private key the gateway logs in with (OpenSSH format). */
  privateKey: string;
  privateKeyPath: string;
  /** Run a command on the target directly (as the test user, through sshd). */
  direct(command: string): string;
  stop(): Promise<void>;
}

function keygen(path: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

export async function startSshd(): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-sshd-'));
  const user = `wt${randomBytes(4).toString('hex')}`;
  execFileSync('useradd', ['-m', '-s', '/bin/bash', user]);
  // '*': no password can match, yet the account is not "locked" (sshd refuses those for keys too).
  execFileSync('usermod', ['-p', '*', user]);
  const home = `/home/${user}`;
  keygen(join(dir, 'host_key'), 'test target host');
  keygen(join(dir, 'client_key'), 'warden gateway');
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  execFileSync('chown', ['-R', `${user}:${user}`, join(home, '.ssh')]);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'AuthorizedKeysFile .ssh/authorized_keys',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin no',
      `AllowUsers ${user}`,
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      'MaxStartups 100',
      'MaxSessions 100',
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  await waitForPort(port, proc, () => stderr);
  const fp = execFileSync('ssh-keygen', ['-lf', join(dir, 'host_key.pub')], { encoding: 'utf8' }).split(' ')[1]!;
  const privateKeyPath = join(dir, 'client_key');
  return {
    port,
    user,
    home,
    hostKey: fp,
    privateKey: readFileSync(privateKeyPath, 'utf8'),
    privateKeyPath,
    direct: (command) =>
      execFileSync(
        'ssh',
        [
          ...['-i', privateKeyPath, '-p', String(port), '-o', 'StrictHostKeyChecking=no'],
          ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes'],
          `${user}@127.0.0.1`,
          command,
        ],
        { encoding: 'utf8' },
      ),
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      try {
        execFileSync('pkill', ['-u', user], { stdio: 'ignore' });
      } catch {}
      try {
        execFileSync('userdel', ['-r', '-f', user], { stdio: 'ignore' });
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, proc: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`sshd exited: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`sshd did not listen on ${port}: ${stderr()}`);
}
