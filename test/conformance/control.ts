// The control plane as the suite uses it, the same for every engine: approvals and revocations
// from another process (the real `warden` CLI), audit entries and pending reviews over the REST
// API, recordings from the recordings folder, and a leak check for masked values.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditLog } from '../../src/audit/index.js';
import { type CliResult, runWarden } from '../helpers/cli.js';
import type { StartedGateway } from './target.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined), or fails with `what`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** The CLI in a child process; the token travels in the environment, not in argv. */
function cli(gw: StartedGateway, token: string, args: string[]): Promise<CliResult> {
  return runWarden(args, { env: { WARDEN_GATEWAY: gw.apiUrl, WARDEN_TOKEN: token }, timeoutMs: 30_000 });
}

/** `warden reviews approve ID` as `approver`, from another process; its exit status and output. */
export function tryApproveFromCli(gw: StartedGateway, reviewId: string, approver: string): Promise<CliResult> {
  return cli(gw, approver, ['reviews', 'approve', reviewId]);
}

/** `warden reviews approve ID` as `approver`, from another process, which must succeed. */
export async function approveFromCli(gw: StartedGateway, reviewId: string, approver: string): Promise<void> {
  const r = await tryApproveFromCli(gw, reviewId, approver);
  assert.equal(r.code, 0, `warden reviews approve ${reviewId}: ${r.stderr}`);
}

/** `warden revoke --sub SUB` as `admin`, from another process. */
export async function revokeFromCli(gw: StartedGateway, sub: string, admin: string): Promise<void> {
  const r = await cli(gw, admin, ['revoke', '--sub', sub, '--reason', 'conformance']);
  assert.equal(r.code, 0, `warden revoke --sub ${sub}: ${r.stderr}`);
}

async function getJson<T>(gw: StartedGateway, token: string, path: string): Promise<T> {
  const res = await fetch(`${gw.apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

export interface AuditEntry {
  seq: number;
  at: number;
  type: string;
  actor: string | null;
  session: string | null;
  connection: string | null;
  data: {
    op?: string;
    text?: string;
    effect?: string;
    rules?: string[];
    reasons?: string[];
    review?: string;
    code?: string;
  } & Record<string, unknown>;
}

/** Audit entries of `actor` (a sub) since `since` (epoch ms), as an admin reads them over the API. */
export async function auditOf(
  gw: StartedGateway,
  admin: string,
  actor: string,
  opts: { since?: number; type?: string } = {},
): Promise<AuditEntry[]> {
  const q = new URLSearchParams({ limit: '10000', type: opts.type ?? 'operation' });
  if (opts.since !== undefined) q.set('since', new Date(opts.since).toISOString());
  const { entries } = await getJson<{ entries: AuditEntry[] }>(gw, admin, `/api/v1/audit?${q}`);
  return entries.filter((e) => e.actor === actor);
}

/** Waits until `actor` has `n` operation entries (audit writes may trail a response by a commit). */
export function auditEntries(gw: StartedGateway, admin: string, actor: string, n: number): Promise<AuditEntry[]> {
  return eventually(async () => {
    const all = await auditOf(gw, admin, actor);
    return all.length >= n ? all : undefined;
  }, `${n} audit entries of ${actor}`);
}

export async function auditChainVerifies(gw: StartedGateway, admin: string): Promise<void> {
  const r = await getJson<{ ok: boolean; checked: number }>(gw, admin, '/api/v1/audit/verify');
  assert.equal(r.ok, true, `audit chain: ${JSON.stringify(r)}`);
}

/** The pending review `requester` is waiting on, as a reviewer sees it over the API. */
export function pendingReviewOf(gw: StartedGateway, reviewer: string, requester: string): Promise<string> {
  return eventually(async () => {
    const { reviews } = await getJson<{ reviews: { id: string; requester: { sub: string } }[] }>(
      gw,
      reviewer,
      '/api/v1/reviews?state=pending',
    );
    return reviews.find((r) => r.requester.sub === requester)?.id;
  }, `a pending review of ${requester}`);
}

/** The raw recording of a session (what the gateway wrote to disk), once it holds `until`. */
export async function recordingOf(
  gw: StartedGateway,
  session: string,
  until: (text: string) => boolean,
): Promise<string> {
  return eventually(async () => {
    for (const ext of ['jsonl', 'cast']) {
      const text = await readFile(join(gw.recordingsDir, `${session}.${ext}`), 'utf8').catch(() => undefined);
      if (text !== undefined && until(text)) return text;
    }
    return undefined;
  }, `the recording of session ${session}`);
}

const digits = (s: string) => s.replace(/\D/g, '');

/** The secrets `values` reveal: equal, contained, or (numbers) the same digits without separators. */
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

export function assertNoLeak(values: readonly (string | null | undefined)[], secrets: readonly string[], what: string) {
  const l = leaked(values, secrets);
  assert.deepEqual(l, [], `${what}: clear values got through: ${l.slice(0, 5).join(', ')}`);
}

/** Make every operation's audit write fail (other entries still written) until the returned function runs. */
export function failOperationAudits(audit: AuditLog): () => void {
  // The data path appends through appendDurable (no record wanted).
  const original = audit.appendDurable.bind(audit);
  audit.appendDurable = (entry) =>
    entry.type === 'operation' ? Promise.reject(new Error('audit store unavailable')) : original(entry);
  return () => {
    audit.appendDurable = original;
  };
}
