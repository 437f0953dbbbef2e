// Shared by the certificate tests: the real ssh client with a config file and no prompts.
import { spawn } from 'node:child_process';
import type { SshRun } from './support.js';

/** What `warden ssh-cert --json` prints (POST /api/v1/ssh/certificates). */
export interface Issued {
  keyId: string;
  principal: string;
  validBefore: number;
  certificate: string;
}

/** The real ssh client, with a config file (verbatim `warden ssh-config` output) and no prompts. */
export function sshF(config: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<SshRun> {
  const child = spawn('ssh', ['-F', config, '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}
