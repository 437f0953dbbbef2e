// `warden ssh-cert`, `warden ssh-config`, `warden ssh` (DESIGN.md §4): a short-lived OpenSSH
// user certificate for the caller's identity, `Host` blocks so plain `ssh CONNECTION` works (the
// gateway's host key pinned, no prompt), and a wrapper that runs the system `ssh` with them.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { displayText as t } from '../../core/display-text.js';
import { ApiClient, type ClientOptions } from '../client.js';
import { CliExit } from '../exit.js';
import { withClient } from '../options.js';
import {
  certificateUsable,
  gatewaySsh,
  mintCertificate,
  type SshFiles,
  sshFiles,
  sshOptions,
  writeKnownHosts,
} from './ssh-files.js';

const DEFAULT_TTL = '15m';
const CONNECTION_NAME = /^[A-Za-z0-9_-]+$/;

interface ConnectionView {
  name: string;
  type: string;
  access: 'granted' | 'jit-requestable';
}

export function registerSsh(program: Command): void {
  withClient(
    program
      .command('ssh-cert')
      .description(
        "mint a key pair here and a short-lived OpenSSH certificate for it, signed by the gateway for the caller's identity",
      )
      .option('--ttl <duration>', 'how long it is valid (never longer than the token)', DEFAULT_TTL)
      .option(
        '--out <dir>',
        'where to write id_ed25519 (0600), id_ed25519.pub, id_ed25519-cert.pub (default ~/.warden/ssh)',
      ),
  ).action(async (opts: ClientOptions & { ttl: string; out?: string }) => {
    const api = ApiClient.from(opts);
    const files = sshFiles(opts.out);
    const cert = await mintCertificate(api, files, opts.ttl);
    if (opts.json) return void process.stdout.write(`${JSON.stringify({ ...cert, files }, null, 2)}\n`);
    process.stdout.write(
      `certificate for ${t(cert.principal)} (key id ${t(cert.keyId)}), valid until ${new Date(cert.validBefore).toISOString()}\n` +
        `  key         ${t(files.key)}\n  certificate ${t(files.cert)}\n`,
    );
  });

  withClient(
    program
      .command('ssh-config')
      .description(
        'print ssh_config Host blocks for the SSH connections you may use (and pin the gateway host key), so plain `ssh CONNECTION` works',
      )
      .option('--dir <dir>', 'the directory of warden ssh-cert (default ~/.warden/ssh); known_hosts is written there'),
  ).action(async (opts: ClientOptions & { dir?: string }) => {
    const api = ApiClient.from(opts);
    const files = sshFiles(opts.dir);
    const gw = await gatewaySsh(api);
    const { connections } = await api.request<{ connections: ConnectionView[] }>('GET', '/api/v1/connections');
    await writeKnownHosts(files, gw);
    const lines = [
      `# Warden gateway ${api.baseUrl}: written by \`warden ssh-config\`; renew the certificate with \`warden ssh-cert\``,
      `# gateway host key ${gw.hostKeyFingerprint}, pinned in ${files.knownHosts}`,
    ];
    for (const c of connections.filter((c) => c.type === 'ssh')) {
      // Names are config-checked to [A-Za-z0-9_-]; anything else is not written into a config.
      if (!CONNECTION_NAME.test(c.name)) continue;
      if (c.access !== 'granted') {
        lines.push(`# ${c.name}: request access first (warden access request ${c.name} --for 30m --reason …)`);
        continue;
      }
      lines.push('', `Host ${c.name}`, ...sshOptions(files, gw, c.name).map(([k, v]) => `  ${k} ${v}`));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });

  withClient(
    program
      .command('ssh')
      .description(
        'run the system ssh to CONNECTION through the gateway with a Warden certificate (minted when missing or expired)',
      )
      .argument('<connection>')
      .argument('[command...]', 'the command to run (after --); none: a shell')
      .option('-t, --tty', 'force a terminal (ssh -t)')
      .option(
        '-L, --local-forward <[bind:]port:host:hostport>',
        'forward a local port through the target (ssh -L; each forward is decided by policy); repeatable',
        (v: string, all: string[]) => [...all, v],
        [] as string[],
      )
      .option('-N, --no-command', 'run no command: only the forwards (ssh -N)')
      .option('--ttl <duration>', 'validity of a newly minted certificate', DEFAULT_TTL)
      .option('--dir <dir>', 'the directory of warden ssh-cert (default ~/.warden/ssh)'),
  ).action(
    async (
      connection: string,
      command: string[],
      opts: ClientOptions & { tty?: boolean; ttl: string; dir?: string; localForward: string[]; command: boolean },
    ) => {
      if (!CONNECTION_NAME.test(connection))
        throw new CliExit(2, `warden ssh: '${t(connection)}' is not a connection name`);
      const api = ApiClient.from(opts);
      const files = sshFiles(opts.dir);
      // GET /ssh authenticates the token too: a revoked or expired one is said here, in words.
      const gw = await gatewaySsh(api);
      await writeKnownHosts(files, gw);
      if (!(await certificateUsable(files, await api.currentToken(), Date.now())))
        await mintCertificate(api, files, opts.ttl);
      for (const spec of opts.localForward)
        if (!LOCAL_FORWARD.test(spec))
          throw new CliExit(2, `warden ssh: -L '${t(spec)}' is not [bind_address:]port:host:hostport`);
      if (!opts.command && command.length)
        throw new CliExit(2, 'warden ssh: -N runs no command; drop the command or -N');
      const extra = [
        ...(opts.tty ? ['-t'] : []),
        ...opts.localForward.flatMap((spec) => ['-L', spec]),
        ...(opts.command ? [] : ['-N']),
      ];
      process.exitCode = await runSsh(files, gw, connection, command, extra);
    },
  );
}

/** ssh -L's forms without a socket path: [bind_address:]port:host:hostport (IPv6 in brackets). */
const LOCAL_FORWARD =
  /^(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.*-]+):)?\d{1,5}:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

function runSsh(
  files: SshFiles,
  gw: { listen: { host: string; port: number } },
  connection: string,
  command: string[],
  extra: string[],
): Promise<number> {
  const options = sshOptions(files, gw, connection).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  const args = [...options, ...extra, connection, ...(command.length ? ['--', ...command] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.WARDEN_SSH || 'ssh', args, { stdio: 'inherit' });
    child.on('error', (err) => reject(new CliExit(1, `warden ssh: cannot run ssh (${err.message})`)));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 255 : 1)));
  });
}
