// Size and nesting bounds checked before a text reaches the parser. libpg-query recurses once per
// level of the parse tree; a statement nested a few thousand levels deep (`1+1+…+1`, `((((…))))`,
// nested subqueries) overflows the stack inside WebAssembly. pg-parser.ts survives that, but each
// such parse costs a fresh instance, so texts that cannot be real SQL are refused up front, from
// the numbers the lexer already computed on its pass (no second scan).
//
// Measured (Node 20, default stack) where the parser first fails: ~8,700 chained `+`, ~2,500
// nested scalar subqueries, ~1,700 nested FROM subqueries / CTEs (the parser's own "memory
// exhausted"), ~5,800 chained COLLATE; and the fact walker (sql-facts.ts, recursive, ~15 frames
// per subquery level) overflows the JS stack at ~600 nested subqueries. The bounds below stay
// inside those and far above real statements: 400 nested brackets / CASEs, 4,000 chained
// operator characters, and any number of list items (long IN lists and VALUES with thousands of
// rows are flat and cost nothing).
import type { NormalizedSql } from './sql-lexer.js';

/** Highest nesting cost (sql-lexer.ts `cost`) a text may have to be parsed. */
export const MAX_NESTING_COST = 4000;
/** Most tokens a text may have to be parsed (parse time grows with it; ~10 ms per 50,000). */
export const MAX_TOKENS = 100_000;

/** Why `normalized` must not be parsed, or null when it is within the bounds. */
export function boundsProblem(normalized: NormalizedSql): string | null {
  if (normalized.cost > MAX_NESTING_COST) {
    return `nested too deeply to analyze (estimated depth ${normalized.cost}, limit ${MAX_NESTING_COST})`;
  }
  if (normalized.tokens > MAX_TOKENS) {
    return `too many tokens to analyze (${normalized.tokens}, limit ${MAX_TOKENS})`;
  }
  return null;
}
