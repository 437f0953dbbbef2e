// Policy.decide() latency on a typical policy (10 rules, masking, JIT access).
// Goal: p99 ≤ 20 µs warm. Cold = the first decide() of a new operation shape on a fresh Policy.
// Run: npx tsx bench/decide.bench.ts
import { performance } from 'node:perf_hooks';
import { configSchema } from '../src/config/index.js';
import type { Identity, Operation, SqlFacts } from '../src/core/types.js';
import { NO_SQL, Policy } from '../src/policy/index.js';

const config = configSchema.parse({
  connections: { shop: { type: 'postgres' }, api: { type: 'http', url: 'https://api.test' } },
  access: [
    { groups: ['agents'], connections: ['shop', 'api'] },
    { groups: ['oncall'], connections: ['shop'], jit: true },
    { groups: ['dba'], connections: ['shop'] },
  ],
  rules: [
    { name: 'unparsed', when: "op.kind == 'sql' && !op.sql.parsed", action: 'block' },
    {
      name: 'no-ddl',
      when: "op.kind == 'sql' && op.sql.kinds.exists(k, k in ['create', 'alter', 'drop', 'truncate'])",
      action: 'block',
    },
    { name: 'no-copy', when: "op.kind == 'sql' && (op.sql.copyProgram || op.sql.serverFile)", action: 'block' },
    {
      name: 'no-fns',
      when: "op.kind == 'sql' && op.sql.functions.exists(f, f in ['pg_read_file', 'pg_ls_dir', 'lo_import', 'dblink'])",
      action: 'block',
    },
    { name: 'no-role', when: "op.kind == 'sql' && 'set_role' in op.sql.kinds", action: 'block' },
    {
      name: 'review-writes',
      groups: ['agents'],
      when: "op.kind == 'sql' && op.sql.writes && !op.sql.allWritesFiltered",
      action: 'review',
      approvers: { groups: ['dba'] },
    },
    {
      name: 'multi',
      when: "op.kind == 'sql' && op.sql.multiStatement && op.sql.writes",
      action: 'review',
      approvers: { groups: ['dba'] },
    },
    { name: 'secrets-table', when: "op.kind == 'sql' && 'secrets' in op.sql.tables", action: 'block' },
    {
      name: 'http-delete',
      connections: ['api'],
      when: "op.kind == 'http' && op.http.method == 'DELETE'",
      action: 'review',
      approvers: { groups: ['dba'] },
    },
    {
      name: 'night',
      when: "'night-shift' in identity.groups && now.getHours() < 6",
      action: 'review',
      approvers: { groups: ['dba'] },
    },
  ],
  masking: [
    {
      connections: ['shop'],
      columns: ['email', 'phone', 'ssn'],
      detect: ['email', 'credit_card'],
      unmaskedFor: ['dba'],
    },
  ],
});

const agent: Identity = { sub: 'agent-1', issuer: 'https://i', groups: ['agents'], claims: {}, expiresAt: 0 };
const facts = (over: Partial<SqlFacts>): SqlFacts => ({
  ...NO_SQL,
  kinds: ['select'],
  tables: ['customers'],
  fingerprint: 'f',
  ...over,
});
const base = { id: 'op_1', session: 's_1', identity: agent, at: Date.UTC(2026, 0, 1, 12) };
const makeOps = (): Operation[] => [
  {
    ...base,
    connection: { name: 'shop', type: 'postgres' },
    kind: 'sql',
    text: 'select * from customers',
    normalized: '',
    sql: facts({}),
  },
  {
    ...base,
    connection: { name: 'shop', type: 'postgres' },
    kind: 'sql',
    text: 'update orders set x = 1',
    normalized: '',
    sql: facts({
      kinds: ['update'],
      writes: true,
      allWritesFiltered: false,
      tables: ['orders'],
      writtenTables: ['orders'],
    }),
  },
  {
    ...base,
    connection: { name: 'api', type: 'http' },
    kind: 'http',
    text: 'GET /orders',
    http: { method: 'GET', path: '/orders', query: {}, headers: {}, json: null },
  },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}
const us = (ms: number) => `${(ms * 1000).toFixed(2)} µs`;

// Cold: a fresh Policy (compiled, nothing evaluated yet) deciding a new op shape for the first time.
const cold: number[] = [];
let sink = 0;
for (let i = 0; i < 200; i++) {
  const policy = new Policy(config);
  for (const op of makeOps()) {
    const t0 = performance.now();
    sink += policy.decide(op).rules.length;
    cold.push(performance.now() - t0);
  }
}
const firstEverCold = cold[0] as number;

// Warm: one policy, operations rotating, after a warm-up.
const policy = new Policy(config);
const ops = makeOps();
for (let i = 0; i < 50_000; i++) sink += policy.decide(ops[i % ops.length] as Operation).rules.length;
const N = 200_000;
const warm = new Float64Array(N);
for (let i = 0; i < N; i++) {
  const op = ops[i % ops.length] as Operation;
  const t0 = performance.now();
  sink += policy.decide(op).rules.length;
  warm[i] = performance.now() - t0;
}
const warmSorted = Array.from(warm).sort((a, b) => a - b);
const coldSorted = [...cold].sort((a, b) => a - b);

console.log(`decide() on ${config.rules.length} rules, ${ops.length} op shapes (sql read, sql write, http)`);
console.log(`warm: p50 ${us(percentile(warmSorted, 50))}  p99 ${us(percentile(warmSorted, 99))}  (n=${N})`);
console.log(
  `cold: p50 ${us(percentile(coldSorted, 50))}  p99 ${us(percentile(coldSorted, 99))}  first in process ${us(firstEverCold)}  (n=${cold.length})`,
);
const p99 = percentile(warmSorted, 99) * 1000;
console.log(
  p99 <= 20 ? `goal met: warm p99 ${p99.toFixed(2)} µs ≤ 20 µs` : `GOAL MISSED: warm p99 ${p99.toFixed(2)} µs > 20 µs`,
);
if (sink < 0) console.log(sink);
