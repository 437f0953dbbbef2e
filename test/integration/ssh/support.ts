// One SSH gateway per test file: Debian's sshd as the target `web-1` (test/helpers/sshd.ts),
// the gateway with its SSH front door on a free loopback port, and the real OpenSSH client
// through it with the identity token passed by sshpass (-e: from the environment, not argv).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/index.js';
import { createLogger, freePort } from '../../../src/gateway/index.js';
import { type RunningGateway, startGateway } from '../../../src/server/index.js';
import { gatewayYamlHead } from '../../helpers/gateway.js';
import { startSshd, type TestSshd } from '../../helpers/sshd.js';

export const SSH_POLICY = `
access:
  - groups: [agents, dba]
    connections: [web-1, down-1, wrongkey-1]
rules:
  - name: unparsed-command
    when: op.kind == 'command' && !op.command.parsed
    action: block
    message: the command line could not be parsed
  - name: no-rm
    when: op.kind == 'command' && op.command.programs.exists(p, p in ['rm', 'shred', '*'])
    action: block
    message: deleting files is not allowed
  - name: restart-needs-review
    when: op.kind == 'command' && op.command.programs.exists(p, p == 'systemctl')
    action: review
    hold: 30s
    approvers: { groups: [dba], count: 1 }
    message: restarting a service needs an approval
  - name: reboot-needs-review
    when: op.kind == 'command' && op.command.programs.exists(p, p == 'reboot')
    action: review
    approvers: { groups: [dba], count: 1 }
    message: rebooting needs an approval
  - name: forward-loopback-only
    when: op.kind == 'session' && op.session.event == 'port-forward' && !op.session.detail.startsWith('127.0.0.1:')
    action: block
    message: forwarding only to the target's loopback
  - name: deletes-only-in-uploads
    when: op.kind == 'file' && op.file.action in ['remove', 'rmdir', 'rename'] && !op.file.path.contains('/uploads/')
    action: block
    message: files are removed only under uploads/
masking:
  - connections: [web-1]
    detect: [email, credit_card, secret]
    unmaskedFor: [dba]
`;

export interface SshGateway {
  target: TestSshd;
  running: RunningGateway;
  sshPort: number;
  dir: string;
  configPath: string;
  token(sub: string, groups: string[], ttlMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startSshGateway(opts: { policy?: string } = {}): Promise<SshGateway> {
  const target = await startSshd();
  const dir = await mkdtemp(join(tmpdir(), 'warden-ssh-gw-'));
  const apiPort = await freePort();
  const downPort = await freePort();
  const keyFile = join(dir, 'target_key');
  await writeFile(keyFile, target.privateKey, { mode: 0o600 });
  const yaml = `${gatewayYamlHead(dir, apiPort, 'ssh')}connections:
  web-1:
    type: ssh
    host: 127.0.0.1
    port: ${target.port}
    user: ${target.user}
    privateKey: \${file:${keyFile}}
    hostKey: "${target.hostKey}"
  down-1:
    type: ssh
    host: 127.0.0.1
    port: ${downPort}
    user: nobody
    privateKey: \${file:${keyFile}}
    hostKey: "${target.hostKey}"
  wrongkey-1:
    type: ssh
    host: 127.0.0.1
    port: ${target.port}
    user: ${target.user}
    privateKey: \${file:${keyFile}}
    hostKey: "SHA256:${'A'.repeat(43)}"
${opts.policy ?? SSH_POLICY}
`;
  const configPath = join(dir, 'warden.yaml');
  await writeFile(configPath, yaml);
  const { config } = parseConfig(yaml, { baseDir: dir, env: process.env });
  const running = await startGateway(config, {
    logger: createLogger({ level: process.env.WARDEN_TEST_LOG ?? 'silent' }),
  });
  return {
    target,
    running,
    sshPort: running.ports.ssh as number,
    dir,
    configPath,
    token: (sub, groups, ttlMs = 15 * 60_000) => running.devIssuer!.mint({ sub, groups, ttlMs }),
    async stop() {
      await running.close();
      await target.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SshRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export const SSH_OPTIONS = [
  ...['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'],
  ...['-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1'],
];

/** The real `ssh` client through the gateway, the token typed by sshpass. */
export function ssh(
  gw: SshGateway,
  token: string,
  command: string,
  opts: { connection?: string; input?: string; extra?: string[]; signal?: AbortSignal } = {},
): Promise<SshRun> {
  const args = [
    '-e',
    'ssh',
    // ssh keeps the first value of an option: the caller's come first.
    ...(opts.extra ?? []),
    ...SSH_OPTIONS,
    '-p',
    String(gw.sshPort),
    `${opts.connection ?? 'web-1'}@127.0.0.1`,
    command,
  ];
  const child = spawn('sshpass', args, {
    env: { ...process.env, SSHPASS: token },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += String(d);
  });
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  child.on('error', () => {});
  if (opts.input !== undefined) child.stdin.end(opts.input);
  else child.stdin.end();
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}
