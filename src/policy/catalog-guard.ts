// Other sessions' SQL text under masking. Every identity reaches the target as one database
// role, so pg_stat_activity.query / pg_stat_statements.query show a masked agent the SQL of
// everyone else, literals included. Those two columns are masked by source for every masked
// identity (src/masking/columns.ts ALWAYS_MASKED_SOURCES), which covers them wherever PostgreSQL
// reports them as a column of the view. Anything that turns them into an expression (`upper(query)`,
// `query || ''`, `row_to_json(a)`, a UNION arm, a scalar subquery, COPY, a cursor, SQL in a string)
// yields a result column without a source, and a WHERE on them is an oracle. Without column
// lineage those cannot be masked, so a masked identity may read these views only in the plain
// form: `query` (or `*`) as a direct output column of a single top-level SELECT.

import { parseTree } from '../analysis/pg-parser.js';
import { copiedFacts, lineageOfFacts } from '../analysis/postgres.js';
import type { MaskPlan, Operation, SqlFacts } from '../core/types.js';
import { maskedOutputNames } from '../masking/lineage.js';
import { compileMasker, type Masker } from '../masking/masker.js';

/**
 * Planner statistics hold sample values of every analyzed column (`most_common_vals`,
 * `histogram_bounds`, extended statistics' MCV lists), so after `ANALYZE customers` they hold
 * card numbers and SSNs. Their rows name the column they describe, but one row mixes values of
 * masked and other columns' statistics only by row, and an array of samples has no source column
 * masking could follow: a masked identity may not read them at all (blocked, with this reason).
 * `ANALYZE` itself then needs no rule.
 */
const STATISTICS_RELATIONS: ReadonlySet<string> = new Set([
  'pg_stats',
  'pg_stats_ext',
  'pg_stats_ext_exprs',
  'pg_statistic',
  // pg_statistic_ext holds only the definitions (psql's \d reads it); the samples are in _data.
  'pg_statistic_ext_data',
]);
/** Functions that decode statistics' sample values (`pg_mcv_list_items(stxdmcv)`). */
const STATISTICS_FUNCTIONS: ReadonlySet<string> = new Set(['pg_mcv_list_items']);

/**
 * Why a masked identity may not run this statement, or null: catalog side channels, and writes
 * that copy a masked column into one that is not masked (`UPDATE customers SET notes = ssn`,
 * `INSERT INTO t SELECT reverse(email) …`), which would then read back in clear.
 */
export function maskedCatalogProblem(text: string, sql: SqlFacts, plan: MaskPlan | null = null): string | null {
  // The answer is the facts' and the plan's (both shared, frozen objects) unless the statement
  // reads a SQL-text view, where its own text is parsed: remembered per pair, as the facts are
  // per statement shape (~1 µs a statement otherwise).
  if (plan === null || readsSqlTextView(sql)) return catalogProblem(text, sql, plan);
  let byPlan = problemsByFacts.get(sql);
  const known = byPlan?.get(plan);
  if (known !== undefined) return known;
  const problem = catalogProblem(text, sql, plan);
  if (byPlan === undefined) {
    byPlan = new WeakMap();
    problemsByFacts.set(sql, byPlan);
  }
  byPlan.set(plan, problem);
  return problem;
}

const problemsByFacts = new WeakMap<SqlFacts, WeakMap<MaskPlan, string | null>>();

function catalogProblem(text: string, sql: SqlFacts, plan: MaskPlan | null): string | null {
  const copy = plan === null ? null : maskedCopyProblem(sql, compileMasker(plan));
  if (copy !== null) return copy;
  for (const t of sql.tables) {
    const name = t.slice(t.lastIndexOf('.') + 1);
    if (STATISTICS_RELATIONS.has(name))
      return `${name} holds sample values of masked columns (planner statistics); not readable under masking`;
  }
  for (const f of sql.functions) {
    if (STATISTICS_FUNCTIONS.has(f))
      return `${f}() returns sample values of columns (planner statistics); not allowed under masking`;
  }
  return otherSessionsSqlProblem(text, sql);
}

function maskedCopyProblem(sql: SqlFacts, masker: Masker): string | null {
  if (!masker.masksColumns || !sql.writes) return null;
  for (const statement of lineageOfFacts(sql) ?? []) {
    for (const w of statement.writes) {
      // `INSERT INTO t SELECT * FROM t`: a row copied onto its own table's columns unmasks nothing.
      const table = w.target.slice(0, w.target.lastIndexOf('.'));
      const source = w.sources.find((s) => masker.sourceIsMasked(s) && s !== `${table}.*`);
      if (source !== undefined && !masker.sourceIsMasked(w.target))
        return `writing ${source} (masked) into ${w.target} would unmask it; not allowed under masking`;
    }
  }
  return null;
}

/** Facts with `maskedOutputs` filled, per analysis and masker: built once, shared like the facts. */
const maskedFacts = new WeakMap<SqlFacts, WeakMap<Masker, SqlFacts>>();

/**
 * `op.sql.maskedOutputs` for the identity's masking plan, from the statement's column lineage.
 * The shared, frozen facts are replaced by a (cached, frozen) copy only when some output is masked.
 */
export function withMaskedOutputs(op: Operation & { kind: 'sql' }, plan: MaskPlan | null): void {
  if (plan === null || plan.columns.length === 0) return;
  const facts = op.sql;
  const masker = compileMasker(plan);
  let perMasker = maskedFacts.get(facts);
  let hit = perMasker?.get(masker);
  if (hit === undefined) {
    const lineage = lineageOfFacts(facts);
    const masked = lineage === undefined ? [] : maskedOutputNames(lineage, masker);
    hit =
      masked.length === 0 ? facts : copiedFacts(facts, Object.freeze({ ...facts, maskedOutputs: masked as string[] }));
    if (perMasker === undefined) {
      perMasker = new WeakMap();
      maskedFacts.set(facts, perMasker);
    }
    perMasker.set(masker, hit);
  }
  op.sql = hit;
}

/** The views (by name, any schema) whose `query` column is other sessions' SQL text. */
const SQL_TEXT_VIEWS: ReadonlySet<string> = new Set(['pg_stat_activity', 'pg_stat_statements']);

/**
 * Functions whose output is other backends' SQL text (the sources of those views). Their result
 * columns carry no table OID, so masking by source cannot cover them.
 */
const SQL_TEXT_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_stat_get_activity',
  'pg_stat_get_backend_activity',
  'pg_stat_statements',
]);

function readsSqlTextView(sql: { tables: readonly string[] }): boolean {
  for (const t of sql.tables) if (SQL_TEXT_VIEWS.has(t.slice(t.lastIndexOf('.') + 1))) return true;
  return false;
}

const HINT = 'select query from pg_stat_activity directly (it is masked for you)';

/** Why a masked identity may not run this statement, or null. `tables`/`functions` as in op.sql. */
export function otherSessionsSqlProblem(
  text: string,
  sql: { parsed: boolean; tables: readonly string[]; functions: readonly string[] },
): string | null {
  for (const f of sql.functions) {
    if (SQL_TEXT_FUNCTIONS.has(f))
      return `${f}() returns other sessions' SQL text, which masking cannot follow; ${HINT}`;
  }
  if (!readsSqlTextView(sql)) return null;
  const what = sql.parsed ? unmaskableUse(text) : 'the statement could not be analyzed';
  return what === null
    ? null
    : `other sessions' SQL text (pg_stat_activity / pg_stat_statements query) is masked only as a plain output column; ${what}; ${HINT}`;
}

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function body(v: unknown, tag: string): Node | undefined {
  if (!isNode(v)) return undefined;
  const b = v[tag];
  return isNode(b) ? b : undefined;
}

function stringOf(v: unknown): string | undefined {
  const s = body(v, 'String');
  const text = s?.sval ?? s?.str;
  return typeof text === 'string' ? text : undefined;
}

/** What in the statement would let the views' query text out unmasked, or null. */
function unmaskableUse(text: string): string | null {
  let tree: { stmts?: { stmt?: unknown }[] };
  try {
    tree = parseTree(text);
  } catch {
    return 'the statement could not be analyzed';
  }
  const allowed = new Set<unknown>();
  const names = new Set<string>();
  let viewInTree = false;
  for (const s of tree.stmts ?? []) {
    const select = body(s.stmt, 'SelectStmt');
    // Only a plain (no set operation) top-level SELECT sends the view's columns with their source.
    if (select && (select.op === undefined || select.op === 'SETOP_NONE') && Array.isArray(select.targetList)) {
      for (const t of select.targetList) {
        const val = body(t, 'ResTarget')?.val;
        if (body(val, 'ColumnRef')) allowed.add(val);
      }
    }
  }
  // Range names: a bare one in an expression is a whole-row reference (`row_to_json(a)`, `a::text`).
  const collect = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) collect(x);
      return;
    }
    if (!isNode(v)) return;
    const rv = body(v, 'RangeVar');
    if (rv) {
      const rel = typeof rv.relname === 'string' ? rv.relname : '';
      names.add(rel);
      if (SQL_TEXT_VIEWS.has(rel)) viewInTree = true;
    }
    const alias = body(v, 'Alias') ?? (isNode(v.alias) ? (v.alias as Node) : undefined);
    if (alias && typeof alias.aliasname === 'string') names.add(alias.aliasname);
    const cte = body(v, 'CommonTableExpr');
    if (cte && typeof cte.ctename === 'string') names.add(cte.ctename);
    for (const child of Object.values(v)) collect(child);
  };
  collect(tree.stmts);
  // Named only inside a string of SQL (query_to_xml('…'), …): its output is one opaque value.
  if (!viewInTree) return 'the view is read inside a string of SQL';

  let problem: string | null = null;
  const walk = (v: unknown): void => {
    if (problem !== null) return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    if (!isNode(v)) return;
    const ref = body(v, 'ColumnRef');
    if (ref) {
      const fields = Array.isArray(ref.fields) ? ref.fields : [];
      const last = fields[fields.length - 1];
      const name = stringOf(last);
      // A bare range name is the whole row as one value, even as a plain output column.
      if (fields.length === 1 && name !== undefined && names.has(name)) problem = `a whole-row reference (${name})`;
      else if (allowed.has(v)) return;
      else if (body(last, 'A_Star')) problem = 'a * inside an expression, a subquery or a set operation';
      else if (name === 'query') problem = 'query is used in an expression, a filter, a subquery or a set operation';
      return;
    }
    for (const child of Object.values(v)) walk(child);
  };
  walk(tree.stmts);
  return problem;
}
