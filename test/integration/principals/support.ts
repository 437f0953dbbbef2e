// Two trusted issuers in front of one shop PostgreSQL: the gateway's dev issuer ("A") and a real
// oidc-provider ("B"), so the same `sub` can be minted at both and must be two principals.
import pg from 'pg';
import { startShopPostgres, startTestGateway, TEST_ACCESS, type TestGateway } from '../../helpers/gateway.js';
import { type OidcTestProvider, startOidcProvider } from '../../helpers/oidc.js';
import type { TestPostgres } from '../../helpers/postgres.js';

/** Reviews of unbounded writes need two DBAs; oncall has JIT access approved by one DBA. */
export const PRINCIPALS_POLICY = `${TEST_ACCESS}rules:
  - name: block-unparsed-sql
    when: op.kind == 'sql' && !op.sql.parsed
    action: block
    message: the statement could not be parsed
  - name: unbounded-writes-need-two-dbas
    groups: [agents]
    when: op.kind == 'sql' && op.sql.writes && !op.sql.allWritesFiltered
    action: review
    approvers: { groups: [dba], count: 2 }
    message: a write without a WHERE clause needs two DBAs
`;

export interface TwoIssuers {
  target: TestPostgres;
  oidc: OidcTestProvider;
  gw: TestGateway;
  /** The dev issuer's URL (issuer A). */
  issuerA: string;
  /** The oidc-provider's URL (issuer B). */
  issuerB: string;
  tokenA(sub: string, groups: string[]): Promise<string>;
  tokenB(sub: string, groups: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startTwoIssuers(opts: { store?: string } = {}): Promise<TwoIssuers> {
  const target = await startShopPostgres();
  const oidc = await startOidcProvider();
  const gw = await startTestGateway(target, {
    policy: PRINCIPALS_POLICY,
    issuers: [oidc.issuer],
    ...(opts.store ? { store: opts.store } : {}),
  });
  return {
    target,
    oidc,
    gw,
    issuerA: gw.running.devIssuer!.issuer,
    issuerB: oidc.issuer,
    tokenA: (sub, groups) => gw.token(sub, groups),
    tokenB: (sub, groups) => oidc.getToken({ sub, groups }),
    async stop() {
      await gw.stop();
      await oidc.stop();
      await target.stop();
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in the tests
type Json = any;

/** One REST call with a bearer token; the body parsed as JSON when there is one. */
export async function api(
  gw: TestGateway,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Json; text: string }> {
  const res = await fetch(`${gw.apiUrl}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (a recording): keep the text
  }
  return { status: res.status, json, text };
}

export type PgError = Error & { code?: string; severity?: string };

export async function connect(gw: TestGateway, token: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: gw.url(token) });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** The error a connection attempt ends with; fails the test when it is accepted. */
export async function connectError(gw: TestGateway, token: string): Promise<PgError> {
  const c = new pg.Client({ connectionString: gw.url(token) });
  c.on('error', () => {});
  try {
    await c.connect();
  } catch (err) {
    return err as PgError;
  } finally {
    await c.end().catch(() => {});
  }
  throw new Error('the connection was accepted');
}

/** Runs a statement that must be held for review; the review id from the 42501 error. */
export async function reviewIdOf(c: pg.Client, sql: string): Promise<string> {
  try {
    await c.query(sql);
  } catch (err) {
    const e = err as PgError;
    const m = /approval required: review (\S+)/.exec(e.message);
    if (e.code !== '42501' || !m) throw new Error(`expected an approval-required error, got ${e.code}: ${e.message}`);
    return (m[1] as string).replace(/[;,]$/, '');
  }
  throw new Error(`'${sql}' ran without a review`);
}
