// PostgreSQL 15 for tests. `node scripts/test.mjs` starts ONE cluster per run (startCluster) and
// hands its coordinates to the test processes in WARDEN_TEST_PG; startPostgres() then gives each
// caller its own database and role on it (cloned from a per-run template when seeded), so a suite
// costs a CREATE DATABASE, not an initdb. Without the variable (a file run directly) or with
// `ownCluster`, startPostgres() starts a private throwaway cluster as before: its own data dir, a
// free loopback port, SCRAM passwords, fsync off. PostgreSQL refuses to run as root, so every
// server binary runs as the `postgres` user via runuser.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const PG_BIN = process.env.WARDEN_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** The environment variable that carries a shared cluster's coordinates (JSON of SharedCluster). */
export const SHARED_CLUSTER_ENV = 'WARDEN_TEST_PG';

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
  /**
   * The cluster's temp dir (holds `data/`, the socket and `postgres.log`). On the shared cluster
   * it is everyone's: a test that edits server files, restarts or stops the server, or runs
   * ALTER SYSTEM must ask for `ownCluster`.
   */
  dataDir: string;
  /** Drops the database and role (shared cluster) or stops the server and removes its dir (own cluster). */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /**
   * Database name; default `warden_test`. On the shared cluster a unique suffix is added
   * (read the name back from `database`).
   */
  database?: string;
  /** App role name; default `warden_app`. On the shared cluster a unique suffix is added. */
  user?: string;
  /** SQL run as the app role in the new database (on the shared cluster: once per run, into a template). */
  seedSql?: string;
  /** A private cluster with exactly the names asked for, e.g. to stop it, edit its files or ALTER SYSTEM. */
  ownCluster?: boolean;
}

/** Where a running cluster is reachable as its superuser; what WARDEN_TEST_PG carries. */
export interface SharedCluster {
  port: number;
  superPassword: string;
  dir: string;
}

export interface PostgresCluster extends SharedCluster {
  stop(): Promise<void>;
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

/** Runs `fn` with one superuser client on `database`, closed afterwards. */
async function asSuperuser<T>(cluster: SharedCluster, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgUrl('postgres', cluster.superPassword, cluster.port, database) });
  await client.connect();
  try {
    return await fn(client);
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

/**
 * initdb into a fresh temp dir (under `parentDir` if given) and start the server on a free
 * loopback port. Its stop() also stops any cluster started under its dir: a test file's private
 * cluster lives under the run's cluster, so one the runner killed mid-file (timeout, Ctrl-C)
 * does not outlive the run.
 */
export async function startCluster(
  opts: { maxConnections?: number; parentDir?: string } = {},
): Promise<PostgresCluster> {
  const missing = missingBinaries();
  if (missing) {
    throw new Error(
      `PostgreSQL 15 server binaries not found (${missing}); install them with: apt-get install -y postgresql`,
    );
  }
  const superPassword = randomBytes(12).toString('hex');
  const dir = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'warden-pg-'));
  const dataDir = join(dir, 'data');
  const pwfile = join(dir, 'pwfile');
  const logFile = join(dir, 'postgres.log');
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  let started = false;

  const stop = async (): Promise<void> => {
    await stopNestedClusters(dir);
    if (started) {
      started = false;
      await asPostgres('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']).catch(() => undefined);
    }
    // Retries: a server process still exiting may write a last file while the tree goes.
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
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
        `-c max_connections=${opts.maxConnections ?? 200}`,
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
    await waitReady(pgUrl('postgres', superPassword, port, 'postgres'), 30_000);
    return { port, superPassword, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function stopNestedClusters(dir: string): Promise<void> {
  const nested = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    nested
      .filter((name) => name.startsWith('warden-pg-') && existsSync(join(dir, name, 'data', 'postmaster.pid')))
      .map((name) =>
        asPostgres('pg_ctl', ['stop', '-D', join(dir, name, 'data'), '-m', 'immediate', '-w']).catch(() => undefined),
      ),
  );
}

/** The run's shared cluster from WARDEN_TEST_PG, if scripts/test.mjs started one. */
export function sharedCluster(): SharedCluster | undefined {
  const raw = process.env[SHARED_CLUSTER_ENV];
  if (!raw) return undefined;
  const c = JSON.parse(raw) as Partial<SharedCluster>;
  if (typeof c.port !== 'number' || typeof c.superPassword !== 'string' || typeof c.dir !== 'string') {
    throw new Error(`${SHARED_CLUSTER_ENV} is not {port, superPassword, dir}`);
  }
  return { port: c.port, superPassword: c.superPassword, dir: c.dir };
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<TestPostgres> {
  const shared = sharedCluster();
  return shared && !opts.ownCluster ? databaseOnSharedCluster(shared, opts) : privateCluster(opts, shared?.dir);
}

async function privateCluster(opts: StartPostgresOptions, parentDir: string | undefined): Promise<TestPostgres> {
  const database = opts.database ?? 'warden_test';
  const user = opts.user ?? 'warden_app';
  const password = randomBytes(12).toString('hex');
  const cluster = await startCluster(parentDir ? { parentDir } : {});
  try {
    const superAdminUrl = pgUrl('postgres', cluster.superPassword, cluster.port, 'postgres');
    await runSql(superAdminUrl, `CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD ${quoteLiteral(password)}`);
    await runSql(superAdminUrl, `CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(user)}`);
    const url = pgUrl(user, password, cluster.port, database);
    if (opts.seedSql) await runSql(url, opts.seedSql);
    return {
      host: '127.0.0.1',
      port: cluster.port,
      user,
      password,
      database,
      url,
      superuserUrl: pgUrl('postgres', cluster.superPassword, cluster.port, database),
      dataDir: cluster.dir,
      stop: cluster.stop,
    };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

// Names on the shared cluster carry the process id (unique among the concurrently running test
// files) and a counter (unique within the file), so two files never meet on a database or role.
let sequence = 0;
const uniqueName = (base: string) => `${base}_p${process.pid}_${++sequence}`;

/** Owns the objects of every template; each clone hands them to its own role (REASSIGN OWNED). */
const TEMPLATE_OWNER = 'warden_template_owner';
/** One advisory lock serializes template builds across the run's test processes. */
const TEMPLATE_LOCK = 7_340_151;
const templates = new Map<string, Promise<string>>();

/** The template database holding `seedSql`, built on first use in this run (race-free across processes). */
function template(cluster: SharedCluster, seedSql: string): Promise<string> {
  const name = `warden_tpl_${createHash('sha256').update(seedSql).digest('hex').slice(0, 16)}`;
  let ready = templates.get(name);
  if (!ready) {
    ready = buildTemplate(cluster, name, seedSql).then(() => name);
    ready.catch(() => templates.delete(name));
    templates.set(name, ready);
  }
  return ready;
}

async function buildTemplate(cluster: SharedCluster, name: string, seedSql: string): Promise<void> {
  await asSuperuser(cluster, 'postgres', async (admin) => {
    await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount) return;
      const roles = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [TEMPLATE_OWNER]);
      if (!roles.rowCount) await admin.query(`CREATE ROLE ${quoteIdent(TEMPLATE_OWNER)} NOLOGIN`);
      // Built under another name and renamed when complete, so a half-built template (a process
      // killed mid-seed) is never cloned; the name is then free for the next try.
      const building = `${name}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(building)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${quoteIdent(building)} OWNER ${quoteIdent(TEMPLATE_OWNER)}`);
      await asSuperuser(cluster, building, async (c) => {
        await c.query(`SET ROLE ${quoteIdent(TEMPLATE_OWNER)}`);
        await c.query(seedSql);
      });
      // The database itself goes to postgres, so REASSIGN OWNED in a clone (which also moves the
      // shared objects the old role owns, databases included) moves only the clone's own objects.
      await admin.query(`ALTER DATABASE ${quoteIdent(building)} OWNER TO postgres`);
      await admin.query(`ALTER DATABASE ${quoteIdent(building)} RENAME TO ${quoteIdent(name)}`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
    }
  });
}

async function databaseOnSharedCluster(cluster: SharedCluster, opts: StartPostgresOptions): Promise<TestPostgres> {
  const database = uniqueName(opts.database ?? 'warden_test');
  const user = uniqueName(opts.user ?? 'warden_app');
  const password = randomBytes(12).toString('hex');
  const tpl = opts.seedSql ? await template(cluster, opts.seedSql) : undefined;
  let dropped = false;
  const stop = async (): Promise<void> => {
    if (dropped) return;
    dropped = true;
    await dropDatabasesAndRole(cluster, user);
  };
  try {
    await asSuperuser(cluster, 'postgres', async (admin) => {
      await admin.query(`CREATE ROLE ${quoteIdent(user)} LOGIN PASSWORD ${quoteLiteral(password)}`);
      const from = tpl ? ` TEMPLATE ${quoteIdent(tpl)}` : '';
      await admin.query(`CREATE DATABASE ${quoteIdent(database)}${from} OWNER ${quoteIdent(user)}`);
    });
    if (tpl) {
      await asSuperuser(cluster, database, (c) =>
        c.query(`REASSIGN OWNED BY ${quoteIdent(TEMPLATE_OWNER)} TO ${quoteIdent(user)}`),
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host: '127.0.0.1',
    port: cluster.port,
    user,
    password,
    database,
    url: pgUrl(user, password, cluster.port, database),
    superuserUrl: pgUrl('postgres', cluster.superPassword, cluster.port, database),
    dataDir: cluster.dir,
    stop,
  };
}

/** Drops every database the role owns (its own, and any a test created for it), then the role. */
async function dropDatabasesAndRole(cluster: SharedCluster, user: string): Promise<void> {
  await asSuperuser(cluster, 'postgres', async (admin) => {
    const owned = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)',
      [user],
    );
    // FORCE ends the sessions still connected (a gateway's pool closing late, a test's leftover client).
    for (const { datname } of owned.rows) await admin.query(`DROP DATABASE ${quoteIdent(datname)} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(user)}`);
  });
}
