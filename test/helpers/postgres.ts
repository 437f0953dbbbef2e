// Starts a throwaway PostgreSQL 15 server for a test suite: its own data dir, a free loopback
// port, SCRAM passwords, fsync off. PostgreSQL refuses to run as root, so every server binary
// runs as the `postgres` user via runuser.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const PG_BIN = process.env.WARDEN_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  host: '127.0.0.1';
  port: number;
  /** The app role (not a superuser), owner of `database`. */
  user: string;
  password: string;
  database: string;
  /** postgres://user:password@127.0.0.1:port/database */
  url: string;
  /** Same server and database, as the `postgres` superuser. */
  superuserUrl: string;
  /** The temp dir (holds `data/`, the socket and `postgres.log`). */
  dataDir: string;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Database name; default `warden_test`. */
  database?: string;
  /** App role name; default `warden_app`. */
  user?: string;
}

function missingBinaries(): string | undefined {
  for (const bin of ['initdb', 'pg_ctl', 'postgres']) {
    if (!existsSync(join(PG_BIN, bin))) return join(PG_BIN, bin);
  }
  if (!existsSync('/usr/sbin/runuser') && !existsSync('/usr/bin/runuser')) return 'runuser';
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function asPostgres(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args], { timeout: 60_000 });
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function pgUrl(user: string, password: string, port: number, database: string): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** Runs SQL (possibly several statements) on `url` with a fresh client; returns the last result's rows. */
export async function runSql(url: string, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query(sql, params);
    const last = Array.isArray(res) ? res[res.length - 1] : res;
    return (last?.rows ?? []) as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      await runSql(url, 'select 1');
      return;
    } catch (e) {
      lastErr = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`PostgreSQL did not become ready in ${timeoutMs} ms: ${String(lastErr)}`);
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<TestPostgres> {
  const missing = missingBinaries();
  if (missing) {
    throw new Error(
      `PostgreSQL 15 server binaries not found (${missing}); install them with: apt-get install -y postgresql`,
    );
  }
  const database = opts.database ?? 'warden_test';
  const user = opts.user ?? 'warden_app';
  const password = randomBytes(12).toString('hex');
  const superPassword = randomBytes(12).toString('hex');

  const dir = await mkdtemp(join(tmpdir(), 'warden-pg-'));
  const dataDir = join(dir, 'data');
  const pwfile = join(dir, 'pwfile');
  const logFile = join(dir, 'postgres.log');
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  let started = false;

  const stop = async (): Promise<void> => {
    if (started) {
      started = false;
      await asPostgres('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await writeFile(pwfile, `${superPassword}\n`, { mode: 0o600 });
    await chown(dir, uid, gid);
    await chown(pwfile, uid, gid);
    await asPostgres('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '-A',
      'scram-sha-256',
      '--pwfile',
      pwfile,
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
    ]);
    await rm(pwfile, { force: true });

    // A free port can be taken between probing and binding; retry a few times.
    let port = 0;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 5 && !started; attempt++) {
      port = await freePort();
      const serverOpts = [
        '-c listen_addresses=127.0.0.1',
        `-c port=${port}`,
        `-c unix_socket_directories=${dir}`,
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=200',
      ].join(' ');
      try {
        await asPostgres('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOpts]);
        started = true;
      } catch (e) {
        lastErr = e;
      }
    }
    if (!started) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`PostgreSQL failed to start: ${String(lastErr)}\n${log.slice(-2000)}`);
    }

    const superAdminUrl = pgUrl('postgres', superPassword, port, 'postgres');
    await waitReady(superAdminUrl, 30_000);
    await runSql(superAdminUrl, `CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD ${quoteLiteral(password)}`);
    await runSql(superAdminUrl, `CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(user)}`);

    return {
      host: '127.0.0.1',
      port,
      user,
      password,
      database,
      url: pgUrl(user, password, port, database),
      superuserUrl: pgUrl('postgres', superPassword, port, database),
      dataDir: dir,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
