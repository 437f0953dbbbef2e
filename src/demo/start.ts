// `warden demo` as a function: a complete gateway on embedded defaults (SQLite store, dev issuer,
// PGlite target with the shop sample, the sample policy), started in a demo folder.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import { parseConfig } from '../config/index.js';
import { WardenError } from '../core/errors.js';
import { releaseYoungGeneration } from '../core/young-generation.js';
import { createLogger } from '../gateway/index.js';
import { gatewayHostKey } from '../protocols/ssh/host-key.js';
import { type RunningGateway, startGateway } from '../server/index.js';
import { demoConfigYaml } from './config.js';
import { DEMO_DEFAULTS } from './defaults.js';
import { claimFolder, PASSWORD_FILE, targetPassword } from './folder.js';
import { DEMO_HTTP_PORT, httpDoorPort, startDemoHttpTarget } from './http-target.js';
import { type PgliteServer, servePglite } from './pglite-server.js';
import { ensureShopSample, openPglite } from './pglite-target.js';
import { claimPort } from './ports.js';
import { startDemoSshTarget } from './ssh-target.js';

const TOKEN_TTL_MS = 8 * 3600_000;
/** The SSH front door's preferred port (any free port when taken, or when apiPort is 0). */
export const DEMO_SSH_PORT = 2222;
/** In the demo folder: the gateway's SSH host key for `ssh -o UserKnownHostsFile=…`. */
export const KNOWN_HOSTS_FILE = 'known_hosts';

export type DemoStep = 'target' | 'sample' | 'gateway';

export interface DemoOptions {
  /** Demo folder (store, recordings, keys, PGlite files, generated warden.yaml). Default ./warden-demo. */
  dir?: string;
  /** Listen host (loopback). Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  apiPort?: number;
  /** Default 15432; 0 picks a free port. */
  pgPort?: number;
  /** HTTP front door; default 8443 when free (any free port when taken, or when apiPort is 0), 0 picks a free port. */
  httpPort?: number;
  /** SSH front door; default 2222 when free (any free port when taken, or when apiPort is 0), 0 picks a free port. */
  sshPort?: number;
  /** Empty the demo folder first (fresh sample data, keys and audit log). */
  reset?: boolean;
  logger?: Logger;
  /** Called as each slow step begins (`done` false) and ends (`done` true, with its duration). */
  onProgress?: (step: DemoStep, done: boolean, ms?: number) => void;
}

export interface RunningDemo {
  dir: string;
  configFile: string;
  host: string;
  apiUrl: string;
  apiPort: number;
  pgPort: number;
  targetPort: number;
  /** The HTTP front door (connection `billing`: the demo billing API). */
  httpPort: number;
  /** The SSH front door (connection `web-1`: the in-process demo host, user name = connection name). */
  sshPort: number;
  /** The demo host's folder (what its built-in commands see; removed on close). */
  sshTargetDir: string;
  gateway: RunningGateway;
  /** Sample tokens from the dev issuer (8 h): an agent and a dba. */
  tokens: { agent: string; dba: string };
  /** True when the sample was loaded now (fresh folder) rather than reopened. */
  freshSample: boolean;
  startupMs: number;
  mint(sub: string, groups: string[], ttlMs?: number): Promise<string>;
  close(): Promise<void>;
}

export async function startDemo(opts: DemoOptions = {}): Promise<RunningDemo> {
  const started = Date.now();
  const host = opts.host ?? DEMO_DEFAULTS.host;
  const dir = resolve(opts.dir ?? DEMO_DEFAULTS.dir);
  const progress = opts.onProgress ?? (() => {});
  const apiPort = await claimPort(host, opts.apiPort ?? DEMO_DEFAULTS.apiPort, 'api');
  const pgPort = await claimPort(host, opts.pgPort ?? DEMO_DEFAULTS.pgPort, 'postgres');
  const releaseFolder = await claimFolder(dir, opts.reset ?? false);

  const cleanups: (() => Promise<unknown>)[] = [releaseFolder];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const password = await targetPassword(dir);
    let t = Date.now();
    progress('target', false);
    const db = await openPglite(join(dir, 'pglite')).catch((err: Error) => {
      throw new WardenError(
        'WARDEN_TARGET_UNAVAILABLE',
        `the embedded PostgreSQL in ${dir} could not start (${err.message}); start over with --reset`,
        { cause: err },
      );
    });
    cleanups.push(() => db.close());
    progress('target', true, Date.now() - t);
    t = Date.now();
    progress('sample', false);
    const freshSample = await ensureShopSample(db);
    progress('sample', true, Date.now() - t);
    const server: PgliteServer = await servePglite(db, { host: '127.0.0.1', port: 0, password });
    cleanups.push(() => server.close());

    const billing = await startDemoHttpTarget();
    cleanups.push(() => billing.close());
    const keyFile = 'billing-api-key';
    await writeFile(join(dir, keyFile), `${billing.apiKey}\n`, { mode: 0o600 });
    const httpPort = await httpDoorPort(host, opts.httpPort ?? (opts.apiPort === 0 ? 0 : DEMO_HTTP_PORT));

    const web1 = await startDemoSshTarget();
    cleanups.push(() => web1.close());
    const sshKeyFile = 'web-1-key';
    await writeFile(join(dir, sshKeyFile), web1.privateKey, { mode: 0o600 });
    const sshPort = await httpDoorPort(host, opts.sshPort ?? (opts.apiPort === 0 ? 0 : DEMO_SSH_PORT));

    t = Date.now();
    progress('gateway', false);
    const yaml = await demoConfigYaml({
      host,
      apiPort,
      pgPort,
      targetPort: server.port,
      passwordFile: `./${PASSWORD_FILE}`,
      http: { port: httpPort, targetPort: billing.port, keyFile: `./${keyFile}` },
      ssh: { port: sshPort, targetPort: web1.port, user: web1.user, keyFile: `./${sshKeyFile}`, hostKey: web1.hostKey },
    });
    const configFile = join(dir, 'warden.yaml');
    await writeFile(configFile, yaml);
    const { config } = parseConfig(yaml, { baseDir: dir });
    const gateway = await startGateway(config, {
      logger: opts.logger ?? createLogger({ level: process.env.WARDEN_LOG_LEVEL ?? 'warn' }),
    });
    cleanups.push(() => gateway.close());
    // As `warden start`: bin/warden.js held it for start-up (core/young-generation.ts).
    releaseYoungGeneration();
    progress('gateway', true, Date.now() - t);
    const sshDoor = gateway.ports.ssh ?? sshPort;
    // The printed ssh lines pin the gateway's host key (the one its SSH door uses, from dataDir).
    const gatewayKey = ssh2.utils.parseKey(await gatewayHostKey(config.dataDir));
    if (gatewayKey instanceof Error) throw gatewayKey;
    const pub = (Array.isArray(gatewayKey) ? gatewayKey[0] : gatewayKey) as ssh2.ParsedKey;
    await writeFile(
      join(dir, KNOWN_HOSTS_FILE),
      `[${host}]:${sshDoor} ${pub.type} ${pub.getPublicSSH().toString('base64')}\n`,
    );

    const mint = (sub: string, groups: string[], ttlMs = TOKEN_TTL_MS) =>
      gateway.devIssuer!.mint({ sub, groups, ttlMs });
    const tokens = { agent: await mint('demo-agent', ['agents']), dba: await mint('demo-dba', ['dba']) };
    return {
      dir,
      configFile,
      host,
      apiUrl: gateway.apiUrl,
      apiPort: gateway.ports.api ?? apiPort,
      pgPort: gateway.ports.postgres ?? pgPort,
      targetPort: server.port,
      httpPort: gateway.ports.http ?? httpPort,
      sshPort: sshDoor,
      sshTargetDir: web1.dir,
      gateway,
      tokens,
      freshSample,
      startupMs: Date.now() - started,
      mint,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
