// A real gateway for the approvals REST tests: API listener on a free port, SQLite store in a
// temp dir, the dev issuer minting one token per person, the approvals fixture's policy (review
// rules approved by `dba`) with JIT access to shop also approved by `dba`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Identity } from '../../../src/core/types.js';
import { createLogger } from '../../../src/gateway/index.js';
import { type RunningGateway, type StartOptions, startGateway } from '../../../src/server/index.js';
import { testConfig, who } from './fixture.js';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field by the tests
export type Body = Record<string, any>;

export interface RestGateway {
  gw: RunningGateway;
  tokens: Record<string, string>;
  /** One API call as `as` (a person's name); the JSON body whatever the status. */
  call(
    as: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; type: string | null; body: Body }>;
  /** The identity the gateway sees for a person's token. */
  identity(sub: string): Identity;
  close(): Promise<void>;
}

export async function restGateway(
  people: Record<string, string[]>,
  opts: Pick<StartOptions, 'apiPlugins'> = {},
): Promise<RestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-approvals-rest-'));
  // The approvals fixture's policy, with the JIT entries approved by the `dba` group.
  const config = testConfig({
    listen: { api: '127.0.0.1:0' },
    store: `sqlite:${join(dir, 'warden.db')}`,
    recordings: join(dir, 'recordings'),
    dataDir: join(dir, 'data'),
    identity: { dev: true },
    access: testConfig().access.map((e) => (e.jit ? { ...e, approvers: { groups: ['dba'], count: 1 } } : e)),
  });
  const gw = await startGateway(config, { logger: createLogger({ level: 'silent' }), ...opts });
  const tokens: Record<string, string> = {};
  for (const [sub, groups] of Object.entries(people)) {
    tokens[sub] = await gw.devIssuer!.mint({ sub, groups, ttlMs: 15 * 60_000 });
  }
  return {
    gw,
    tokens,
    async call(as, method, path, body) {
      const res = await fetch(`${gw.apiUrl}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${tokens[as]}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Body };
    },
    // The tokens come from the dev issuer: the same principal (issuer, sub) as they name.
    identity: (sub) => ({ ...who(sub, people[sub] ?? []), issuer: gw.devIssuer!.issuer }),
    async close() {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
