// Shared by the bypass regression suites: the clear secrets of the shop (read as the owner, so a
// test compares against the real values, not a guess), leak checks, and the example policy.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';

export const SECRET_COLUMNS = ['email', 'phone', 'ssn', 'card_number'] as const;

/** Every non-null email, phone, ssn and card number of the shop, as stored. */
export async function shopSecrets(pg: TestPostgres): Promise<string[]> {
  const rows = await runSql(pg.url, 'SELECT email, phone, ssn, card_number FROM customers ORDER BY id');
  const out = new Set<string>();
  for (const r of rows) for (const c of SECRET_COLUMNS) if (typeof r[c] === 'string') out.add(r[c] as string);
  return [...out];
}

const digits = (s: string) => s.replace(/\D/g, '');

/**
 * The secrets that `values` reveal: a value equal to a secret, containing one, or (for the
 * numeric ones) carrying the same digits once separators are dropped.
 */
export function leaked(values: readonly (string | null | undefined)[], secrets: readonly string[]): string[] {
  const found = new Set<string>();
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const vd = digits(v);
    for (const s of secrets) {
      if (v.includes(s)) found.add(s);
      const sd = digits(s);
      if (sd.length >= 9 && vd.includes(sd)) found.add(s);
    }
  }
  return [...found];
}

export function assertNoLeak(
  values: readonly (string | null | undefined)[],
  secrets: readonly string[],
  what: string,
): void {
  const l = leaked(values, secrets);
  assert.deepEqual(l, [], `${what}: clear values reached the client: ${l.slice(0, 5).join(', ')}`);
}

export async function tableExists(pg: TestPostgres, name: string): Promise<boolean> {
  const r = await runSql(pg.url, 'SELECT to_regclass($1) IS NOT NULL AS ok', [name]);
  return r[0]?.ok === true;
}

const EXAMPLE = fileURLToPath(new URL('../../../examples/warden.yaml', import.meta.url));

/**
 * The policy part of examples/warden.yaml (access, rules, masking), for startTestGateway's
 * `policy`. The example holds reviews open for 2 minutes; the hold is dropped so a review
 * answers at once (the decision itself is unchanged).
 */
export async function examplePolicy(): Promise<string> {
  const yaml = await readFile(EXAMPLE, 'utf8');
  const at = yaml.search(/^access:/m);
  assert.ok(at > 0, 'examples/warden.yaml has an access section');
  return yaml.slice(at).replace(/^\s+hold:.*$/m, '');
}

export const ms = (n: number) => new Promise<void>((r) => setTimeout(r, n));
