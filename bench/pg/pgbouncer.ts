// pgbouncer in front of the bench database (session pooling, so -M prepared works), run as the
// postgres user in a temp dir. Absent binary → null and the caller prints how to install it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/gateway/index.js';
import type { Endpoint } from './endpoint.js';

export const PGBOUNCER_INSTALL = 'apt-get install -y pgbouncer';
const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

export interface RunningPgbouncer {
  endpoint: Endpoint;
  stop(): Promise<void>;
}

export function pgbouncerBinary(): string | undefined {
  return CANDIDATES.find((p) => existsSync(p));
}

export async function startPgbouncer(target: Endpoint): Promise<RunningPgbouncer | null> {
  const bin = pgbouncerBinary();
  if (!bin) return null;
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-pgb-'));
  const port = await freePort('127.0.0.1');
  const ini = join(dir, 'pgbouncer.ini');
  const users = join(dir, 'userlist.txt');
  const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
  await writeFile(users, `${quote(target.user)} ${quote(target.password)}\n`, { mode: 0o600 });
  await writeFile(
    ini,
    [
      '[databases]',
      `${target.database} = host=127.0.0.1 port=${target.port} dbname=${target.database}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      "unix_socket_dir = ''",
      'auth_type = scram-sha-256',
      `auth_file = ${users}`,
      'pool_mode = session',
      'max_client_conn = 200',
      'default_pool_size = 20',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      'log_connections = 0',
      'log_disconnections = 0',
      'log_stats = 0',
      '',
    ].join('\n'),
  );
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  for (const f of [dir, ini, users]) await chown(f, uid, gid);

  const child: ChildProcess = spawn('runuser', ['-u', 'postgres', '--', bin, ini], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await waitListening(port, child, () => stderr);
  // runuser forks pgbouncer; measure pgbouncer itself.
  const pid = Number(
    execFileSync('pgrep', ['-P', String(child.pid), '-x', 'pgbouncer'])
      .toString()
      .trim()
      .split('\n')[0],
  );
  return {
    endpoint: {
      name: 'pgbouncer',
      port,
      user: target.user,
      database: target.database,
      password: target.password,
      ...(pid ? { pid } : {}),
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        if (pid) process.kill(pid, 'SIGTERM');
        else child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitListening(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${stderr().trim()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port}: ${stderr().trim()}`);
}
