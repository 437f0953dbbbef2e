// SQL analysis cost per statement: cold (cache miss: lex + libpg-query parse + walk + fingerprint)
// vs warm (the same statement with other literals: lex + hash lookup). Prints µs p50/p99.
// Run: npx tsx bench/analysis.bench.ts
import { analyzePostgres, clearSqlAnalysisCache, initAnalysis } from '../src/analysis/index.js';

const SHAPES: [string, (i: number) => string][] = [
  ['point select', (i) => `SELECT id, email, name FROM customers WHERE id = ${i}`],
  [
    'join + order',
    (i) =>
      `SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total > ${i}.5 AND c.country = 'c${i}' ORDER BY o.created_at DESC LIMIT 50`,
  ],
  ['update', (i) => `UPDATE orders SET status = 'shipped', shipped_at = now() WHERE id = ${i}`],
  ['insert values', (i) => `INSERT INTO events (kind, payload, at) VALUES ('k${i}', '{"n": ${i}}', now())`],
  [
    'cte + delete',
    (i) =>
      `WITH old AS (DELETE FROM sessions WHERE expires < now() - interval '${i} days' RETURNING id) SELECT count(*) FROM old`,
  ],
];

const ROUNDS = 2000;

function percentiles(samples: number[]): { p50: number; p99: number } {
  const sorted = samples.slice().sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1000;
}

await initAnalysis();
// Warm up the JIT on both paths.
for (let i = 0; i < 500; i++) {
  for (const [, make] of SHAPES) analyzePostgres(make(i).replace('FROM', `/* ${i} */ FROM`));
}

console.log('shape            cold p50   cold p99   warm p50   warm p99   (µs per statement)');
for (const [name, make] of SHAPES) {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    clearSqlAnalysisCache();
    cold.push(time(() => analyzePostgres(make(i))));
    warm.push(time(() => analyzePostgres(make(i + 1))));
  }
  const c = percentiles(cold);
  const w = percentiles(warm);
  const f = (n: number) => n.toFixed(1).padStart(9);
  console.log(`${name.padEnd(16)}${f(c.p50)}  ${f(c.p99)}  ${f(w.p50)}  ${f(w.p99)}`);
}
