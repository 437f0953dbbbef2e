// Real pieces for the approvals tests: a temp SQLite store, the hash-chained audit log, a manual
// clock and a config parsed by the real schema.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Approvals, type ApprovalsDeps } from '../../../src/approvals/index.js';
import { AuditLog } from '../../../src/audit/index.js';
import { configSchema, type WardenConfig } from '../../../src/config/schema.js';
import { ManualClock } from '../../../src/core/clock.js';
import type { Decision, Identity, Operation } from '../../../src/core/types.js';
import { openStore, type Store } from '../../../src/store/index.js';

export const HOUR = 3_600_000;

export function testConfig(extra: Record<string, unknown> = {}): WardenConfig {
  return configSchema.parse({
    admins: ['admins'],
    connections: {
      shop: { type: 'postgres', host: '127.0.0.1', port: 5432, database: 'shop' },
      ops: { type: 'ssh', hostKey: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    },
    access: [
      { groups: ['agents'], connections: ['shop'] },
      {
        groups: ['oncall'],
        connections: ['shop'],
        jit: true,
        maxDuration: '2h',
        approvers: { groups: ['sre'], count: 1 },
      },
      { groups: ['oncall'], connections: ['ops'], jit: true },
    ],
    rules: [
      {
        name: 'unbounded-writes',
        when: 'op.kind == "sql" && op.sql.writes && !op.sql.allWritesFiltered',
        action: 'review',
        approvers: { groups: ['dba'], count: 1 },
        approvalTtl: '30m',
      },
      {
        name: 'two-person-drop',
        when: 'op.kind == "sql" && "drop" in op.sql.kinds',
        action: 'review',
        approvers: { groups: ['dba', 'security'], count: 2 },
        uses: 2,
      },
    ],
    ...extra,
  });
}

export function who(sub: string, groups: string[]): Identity {
  return { sub, issuer: 'https://issuer.test', groups, claims: { sub }, expiresAt: Date.UTC(2030, 0, 1) };
}

let opSeq = 0;
export function sqlOp(identity: Identity, text: string, connection = 'shop', at = 0): Operation {
  return {
    id: `op_${++opSeq}`,
    session: 's_test',
    connection: { name: connection, type: 'postgres' },
    identity,
    text,
    at,
    kind: 'sql',
    normalized: text.replace(/'[^']*'|\b\d+\b/g, '?'),
    sql: {
      kinds: [/^\s*(\w+)/.exec(text)?.[1]?.toLowerCase() as 'delete'],
      tables: [],
      writtenTables: [],
      functions: [],
      writes: true,
      allWritesFiltered: false,
      copyProgram: false,
      serverFile: false,
      settings: [],
      multiStatement: false,
      parsed: true,
      fingerprint: 'fp',
      dynamicSql: false,
      maskedOutputs: [],
      filterColumns: [],
    },
  };
}

export function reviewDecision(rule = 'unbounded-writes', groups = ['dba'], count = 1, holdMs = 0): Decision {
  return {
    effect: 'review',
    rules: [rule],
    reasons: [{ code: 'rule-matched', rule, effect: 'review', message: 'unbounded write' }],
    masking: null,
    review: { groups, count, holdMs },
  };
}

export interface Env {
  dir: string;
  url: string;
  store: Store;
  audit: AuditLog;
  clock: ManualClock;
  config: WardenConfig;
  approvals: Approvals;
  /** Another Approvals (a second gateway instance, or the same one after a restart) on the same store. */
  instance(opts?: Partial<ApprovalsDeps> & { ownStore?: boolean }): Promise<Approvals>;
  close(): Promise<void>;
}

export const silentLogger = pino({ level: 'silent' });

export async function makeEnv(opts: { config?: WardenConfig; deps?: Partial<ApprovalsDeps> } = {}): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-approvals-'));
  const url = `sqlite:${join(dir, 'warden.db')}`;
  const store = await openStore(url);
  const clock = new ManualClock();
  const audit = new AuditLog(store, { clock });
  const config = opts.config ?? testConfig();
  const started: Approvals[] = [];
  const extraStores: Store[] = [];
  const instance = async ({ ownStore, ...deps }: Partial<ApprovalsDeps> & { ownStore?: boolean } = {}) => {
    // ownStore: a second connection to the same database file, as another gateway process has.
    let s = store;
    if (ownStore) {
      s = await openStore(url);
      extraStores.push(s);
    }
    const a = new Approvals({
      config,
      store: s,
      audit,
      clock,
      logger: silentLogger,
      refreshMs: 60_000,
      ...opts.deps,
      ...deps,
    });
    await a.start();
    started.push(a);
    return a;
  };
  const approvals = await instance();
  return {
    dir,
    url,
    store,
    audit,
    clock,
    config,
    approvals,
    instance,
    async close() {
      for (const a of started) {
        a.stop();
        await a.notifier.drain();
      }
      await audit.flush();
      for (const s of extraStores) await s.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function auditTypes(audit: AuditLog): Promise<string[]> {
  await audit.flush();
  return (await audit.list({ limit: 10_000 })).map((e) => e.type);
}
