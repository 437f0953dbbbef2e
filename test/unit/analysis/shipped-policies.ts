// The two shipped policies (examples/warden.yaml and the demo's policy.yaml) as Policy objects,
// and SQL operations to decide against them: shared by the example-policy and lineage-policy tests.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { analyzePostgres } from '../../../src/analysis/index.js';
import { loadConfigFile, parseConfig } from '../../../src/config/index.js';
import type { Identity, Operation } from '../../../src/core/types.js';
import { Policy } from '../../../src/policy/index.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/warden.yaml', import.meta.url));
const DEMO_POLICY = fileURLToPath(new URL('../../../src/demo/policy.yaml', import.meta.url));

export const who = (sub: string, groups: string[]): Identity => ({
  sub,
  issuer: 'https://issuer.test',
  groups,
  claims: { sub },
  expiresAt: Date.UTC(2030, 0, 1),
});

/** A SQL operation on `shop` (call initAnalysis() first). */
export function op(identity: Identity, text: string): Operation & { kind: 'sql' } {
  const a = analyzePostgres(text);
  return {
    id: 'op_1',
    session: 's_1',
    connection: { name: 'shop', type: 'postgres' },
    identity,
    text,
    at: Date.UTC(2026, 0, 1, 12),
    kind: 'sql',
    sql: a.facts,
    normalized: a.normalized,
  };
}

/** Both shipped policies, by file name (the demo policy with the demo's connections). */
export async function shippedPolicies(): Promise<[string, Policy][]> {
  const env = process.env.SHOP_DB_PASSWORD;
  process.env.SHOP_DB_PASSWORD = 'pw-for-tests';
  try {
    const example = new Policy((await loadConfigFile(EXAMPLE)).config);
    const demoYaml = `connections:\n  shop: { type: postgres, host: 127.0.0.1, port: 5432, database: shop, user: app, password: x }\n  billing: { type: http, url: 'http://127.0.0.1:1' }\n  web-1: { type: ssh, hostKey: 'SHA256:${'A'.repeat(43)}' }\n${await readFile(DEMO_POLICY, 'utf8')}`;
    const demo = new Policy(parseConfig(demoYaml, { baseDir: process.cwd() }).config);
    return [
      ['examples/warden.yaml', example],
      ['src/demo/policy.yaml', demo],
    ];
  } finally {
    if (env === undefined) delete process.env.SHOP_DB_PASSWORD;
    else process.env.SHOP_DB_PASSWORD = env;
  }
}
