// Gateways for the revocation suites: like test/helpers/gateway.ts, but with the identity section
// given (extra OIDC issuers next to the dev issuer) and optionally a store shared by two gateways.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/index.js';
import { createLogger, freePort } from '../../../src/gateway/index.js';
import { type RunningGateway, startGateway } from '../../../src/server/index.js';
import { TEST_POLICY } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';

export interface RevocationGateway {
  running: RunningGateway;
  apiUrl: string;
  pgPort: number;
  dir: string;
  devToken(sub: string, groups: string[]): Promise<string>;
  url(token: string): string;
  stop(): Promise<void>;
}

export async function startRevocationGateway(
  target: TestPostgres,
  opts: { issuers?: string[]; store?: string } = {},
): Promise<RevocationGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-revoke-'));
  const apiPort = await freePort();
  const issuers = (opts.issuers ?? [])
    .map((iss) => `    - issuer: ${iss}\n      audience: warden\n      groupsClaim: groups\n`)
    .join('');
  const yaml = `
listen:
  api: 127.0.0.1:${apiPort}
  postgres: 127.0.0.1:0
store: ${opts.store ?? `sqlite:${join(dir, 'warden.db')}`}
recordings: ${join(dir, 'recordings')}
dataDir: ${join(dir, 'data')}
admins: [admins]
identity:
  dev: true
${issuers ? `  issuers:\n${issuers}` : ''}
connections:
  shop:
    type: postgres
    host: 127.0.0.1
    port: ${target.port}
    database: ${target.database}
    user: ${target.user}
    password: \${env:TEST_SHOP_PASSWORD}
    tls: disable
${TEST_POLICY}
`;
  await writeFile(join(dir, 'warden.yaml'), yaml);
  const { config } = parseConfig(yaml, { baseDir: dir, env: { ...process.env, TEST_SHOP_PASSWORD: target.password } });
  const running = await startGateway(config, {
    logger: createLogger({ level: process.env.WARDEN_TEST_LOG ?? 'silent' }),
  });
  const pgPort = running.ports.postgres as number;
  return {
    running,
    apiUrl: running.apiUrl,
    pgPort,
    dir,
    devToken: (sub, groups) => running.devIssuer!.mint({ sub, groups, ttlMs: 15 * 60_000 }),
    url: (token) => `postgres://agent:${encodeURIComponent(token)}@127.0.0.1:${pgPort}/shop?sslmode=disable`,
    async stop() {
      await running.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The `jti` claim of a JWT (read without verifying: the token is our own). */
export function jtiOf(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as {
    jti?: string;
  };
  if (!payload.jti) throw new Error('token has no jti');
  return payload.jti;
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in the tests
type Json = any;

export async function api(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}
