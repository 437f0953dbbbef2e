// A complete gateway for integration tests: a real PostgreSQL with the sample shop schema, the
// gateway on free loopback ports (SQLite store in a temp dir, dev issuer), and token minting.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/index.js';
import type { Clock } from '../../src/core/clock.js';
import { createLogger, freePort } from '../../src/gateway/index.js';
import { type RunningGateway, startGateway } from '../../src/server/index.js';
import { startPostgres, type TestPostgres } from './postgres.js';

export const SHOP_SQL = fileURLToPath(new URL('../../src/demo/shop.sql', import.meta.url));

/**
 * A database with the shop sample (owned by the app role). On the run's shared cluster it is a
 * clone of a per-run template, named `shop_…` / `app_…`; `ownCluster` gives a private server
 * with exactly `shop` and `app`, for tests that stop it or change server-wide state.
 */
export async function startShopPostgres(opts: { ownCluster?: boolean } = {}): Promise<TestPostgres> {
  return startPostgres({
    database: 'shop',
    user: 'app',
    seedSql: await readFile(SHOP_SQL, 'utf8'),
    ...(opts.ownCluster ? { ownCluster: true } : {}),
  });
}

/** The shop's access grants: agents and dba standing, oncall just-in-time (one DBA approves). */
export const TEST_ACCESS = `
access:
  - groups: [agents]
    connections: [shop]
  - groups: [dba]
    connections: [shop]
  - groups: [oncall]
    connections: [shop]
    jit: true
    maxDuration: 2h
    approvers: { groups: [dba], count: 1 }
`;

export const TEST_POLICY = `${TEST_ACCESS}rules:
  - name: block-unparsed-sql
    when: op.kind == 'sql' && !op.sql.parsed
    action: block
    message: the statement could not be parsed
  - name: no-ddl
    when: op.kind == 'sql' && op.sql.kinds.exists(k, k in ['create', 'alter', 'drop', 'truncate', 'grant', 'revoke'])
    action: block
    message: schema changes are not allowed through Warden
  - name: no-server-side-copy
    when: op.kind == 'sql' && (op.sql.copyProgram || op.sql.serverFile)
    action: block
    message: COPY with PROGRAM or a server file is not allowed
  - name: no-dangerous-functions
    when: op.kind == 'sql' && op.sql.functions.exists(f, f in ['pg_read_file', 'pg_ls_dir', 'lo_import'])
    action: block
    message: this function reads server files
  - name: unbounded-writes-need-review
    groups: [agents]
    when: op.kind == 'sql' && op.sql.writes && !op.sql.allWritesFiltered
    action: review
    approvers: { groups: [dba], count: 1 }
    message: a write without a WHERE clause needs a DBA's approval
masking:
  - connections: [shop]
    columns: [email, phone, ssn, card_number]
    detect: [email, credit_card, us_ssn, phone, iban, secret]
    unmaskedFor: [dba]
`;

/** An UPDATE of orders waits (up to 10 min) for one DBA's approval instead of being refused. */
export const HOLD_POLICY = TEST_POLICY.replace(
  'rules:\n',
  `rules:
  - name: held-order-updates
    when: op.kind == 'sql' && op.sql.kinds.exists(k, k == 'update') && op.sql.tables.exists(t, t == 'orders')
    action: review
    hold: 10m
    approvers: { groups: [dba], count: 1 }
`,
);

export interface TestGateway {
  running: RunningGateway;
  pgPort: number;
  apiUrl: string;
  dir: string;
  apiPort: number;
  /** The config as a file, for CLI commands (`-c`); needs `env` for its secret reference. */
  configPath: string;
  env: NodeJS.ProcessEnv;
  token(sub: string, groups: string[], ttlMs?: number): Promise<string>;
  /** A libpq-style URL for connecting through the gateway as this token. */
  url(token: string, connection?: string): string;
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

/**
 * The config head every test gateway shares: the API on `apiPort` and one front door on a free
 * loopback port, store, recordings and keys in `dir`, admins group `admins`, the dev issuer
 * (the `identity:` block stays open for more issuers).
 */
export function gatewayYamlHead(dir: string, apiPort: number, door: string, store?: string): string {
  return `
listen:
  api: 127.0.0.1:${apiPort}
  ${door}: 127.0.0.1:0
store: ${store ?? `sqlite:${join(dir, 'warden.db')}`}
recordings: ${join(dir, 'recordings')}
dataDir: ${join(dir, 'data')}
admins: [admins]
identity:
  dev: true
`;
}

export async function startTestGateway(
  target: TestPostgres,
  opts: {
    policy?: string;
    clock?: Clock;
    extraYaml?: string;
    store?: string;
    /** Reuse a previous gateway's folder and API port (a restart: same store, same dev issuer). */
    restartOf?: TestGateway;
    /** OIDC issuers trusted next to the dev issuer (audience `warden`, groups claim `groups`), e.g. test/helpers/oidc.ts. */
    issuers?: string[];
  } = {},
): Promise<TestGateway> {
  const dir = opts.restartOf?.dir ?? (await mkdtemp(join(tmpdir(), 'warden-gw-')));
  // A fixed API port (not 0) so the written config file names the running gateway, which the
  // CLI's `warden token -c` relies on for the dev issuer URL.
  const apiPort = opts.restartOf?.apiPort ?? (await freePort());
  const yaml = `${gatewayYamlHead(dir, apiPort, 'postgres', opts.store)}${issuersYaml(opts.issuers ?? [])}connections:
  shop:
    type: postgres
    host: 127.0.0.1
    port: ${target.port}
    database: ${target.database}
    user: ${target.user}
    password: \${env:TEST_SHOP_PASSWORD}
    tls: disable
${opts.extraYaml ?? ''}
${opts.policy ?? TEST_POLICY}
`;
  const configPath = join(dir, 'warden.yaml');
  await writeFile(configPath, yaml);
  const env = { ...process.env, TEST_SHOP_PASSWORD: target.password };
  const { config } = parseConfig(yaml, { baseDir: dir, env });
  const running = await startGateway(config, {
    ...(opts.clock ? { clock: opts.clock } : {}),
    logger: createLogger({ level: process.env.WARDEN_TEST_LOG ?? 'silent' }),
  });
  const pgPort = running.ports.postgres as number;
  return {
    running,
    pgPort,
    apiUrl: running.apiUrl,
    dir,
    apiPort,
    configPath,
    env,
    token: (sub, groups, ttlMs = 15 * 60_000) => running.devIssuer!.mint({ sub, groups, ttlMs }),
    url: (token, connection = 'shop') =>
      `postgres://agent:${encodeURIComponent(token)}@127.0.0.1:${pgPort}/${connection}?sslmode=disable`,
    async stop(opts: { keepDir?: boolean } = {}) {
      await running.close();
      if (!opts.keepDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

function issuersYaml(issuers: string[]): string {
  if (issuers.length === 0) return '';
  return `  issuers:\n${issuers.map((iss) => `    - issuer: ${iss}\n      audience: warden\n      groupsClaim: groups\n`).join('')}`;
}

/**
 * For a describe() block: a shop PostgreSQL and a gateway in front of it, started in `before`
 * and stopped in `after`. Read `suite.gw` / `suite.target` inside the tests.
 */
export function shopGatewaySuite(
  opts: NonNullable<Parameters<typeof startTestGateway>[1]> & { ownCluster?: boolean } = {},
): {
  gw: TestGateway;
  target: TestPostgres;
} {
  const suite = {} as { gw: TestGateway; target: TestPostgres };
  const { ownCluster, ...gatewayOpts } = opts;
  before(async () => {
    suite.target = await startShopPostgres(ownCluster ? { ownCluster } : {});
    suite.gw = await startTestGateway(suite.target, gatewayOpts);
  });
  after(async () => {
    await suite.gw?.stop();
    await suite.target?.stop();
  });
  return suite;
}
