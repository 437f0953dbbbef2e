// The read-only probes behind a review's impact preview: for one SQL write, `EXPLAIN` of that
// statement (planned, never executed) and, for a single-table UPDATE or DELETE, a
// `SELECT count(*) FROM <table> WHERE <same condition>` built from the parsed tree. Both are
// deparsed from libpg-query's tree (pgsql-deparser) and checked: the write deparses back to the
// same fingerprint as the text the client sent, and each probe parses as exactly one statement
// of the expected kind. Anything this cannot vouch for has no probe (the impact is unknown).
import { deparseSync } from 'pgsql-deparser';
import { fingerprintOf, parseTree, type RawStatement } from './pg-parser.js';
import { analyzePostgres } from './postgres.js';
import { asNode, type TreeNode } from './sql-tree.js';

export type ImpactVerb = 'delete' | 'update' | 'insert' | 'merge';

export interface ImpactProbes {
  verb: ImpactVerb;
  /** The table written, as the statement names it (schema-qualified when it was). */
  table: string;
  /** `EXPLAIN (FORMAT JSON) <the write>`: the planner's row estimate. */
  explain: string;
  /** `SELECT count(*) …` with the write's condition; absent when not a single-table UPDATE/DELETE. */
  count?: string;
  /** Why there is no count probe. */
  noCount?: string;
}

export type ImpactPlan = { ok: true; probes: ImpactProbes } | { ok: false; reason: string };

const VERBS: Record<string, ImpactVerb> = {
  DeleteStmt: 'delete',
  UpdateStmt: 'update',
  InsertStmt: 'insert',
  MergeStmt: 'merge',
};

/** The probes for one SQL write, or why there are none. Pure: never touches a database. */
export function impactProbes(text: string): ImpactPlan {
  const analysis = analyzePostgres(text);
  const facts = analysis.facts;
  if (!facts.parsed) return { ok: false, reason: 'the statement could not be parsed' };
  if (facts.multiStatement) return { ok: false, reason: 'more than one statement' };
  let stmts: RawStatement[];
  try {
    stmts = parseTree(text).stmts ?? [];
  } catch {
    return { ok: false, reason: 'the statement could not be parsed' };
  }
  if (stmts.length !== 1) return { ok: false, reason: 'more than one statement' };
  const [type, body] = only(stmts[0]!.stmt);
  const verb = type ? VERBS[type] : undefined;
  if (!verb || !body) return { ok: false, reason: 'not an INSERT, UPDATE, DELETE or MERGE' };
  // Bind parameters have no values here: neither probe could run.
  if (JSON.stringify(body).includes('"ParamRef"')) return { ok: false, reason: 'the statement has bind parameters' };

  const stmt = { [type!]: body };
  const write = deparse(stmt);
  // The deparsed write must be the statement the client sent (literals included: fingerprints
  // ignore them, so the text comparison below checks them through the count probe's re-parse).
  if (!write || fingerprintOf(write) === '' || fingerprintOf(write) !== facts.fingerprint) {
    return { ok: false, reason: 'the statement could not be rebuilt faithfully' };
  }
  const explain = `EXPLAIN (FORMAT JSON) ${write}`;
  if (!parsesAs(explain, 'ExplainStmt')) return { ok: false, reason: 'the statement could not be rebuilt faithfully' };

  const relation = asNode(body.relation);
  const table = relation ? tableName(relation) : '?';
  const probes: ImpactProbes = { verb, table, explain };
  const count = countProbe(verb, body);
  if (typeof count === 'string') probes.count = count;
  else probes.noCount = count.reason;
  return { ok: true, probes };
}

/** `SELECT count(*) FROM <relation> WHERE <condition>` for a single-table UPDATE/DELETE. */
function countProbe(verb: ImpactVerb, body: TreeNode): string | { reason: string } {
  if (verb !== 'delete' && verb !== 'update') return { reason: `no exact count for ${verb.toUpperCase()}` };
  if (body.withClause) return { reason: 'the statement has a WITH clause' };
  const joined = verb === 'delete' ? body.usingClause : body.fromClause;
  if (Array.isArray(joined) && joined.length > 0)
    return { reason: `the statement reads other tables (${verb === 'delete' ? 'USING' : 'FROM'})` };
  const where = body.whereClause;
  if (where && asNode(where)?.CurrentOfExpr) return { reason: 'WHERE CURRENT OF a cursor' };
  const relation = asNode(body.relation);
  if (!relation) return { reason: 'no target table' };
  const select: TreeNode = {
    SelectStmt: {
      targetList: [{ ResTarget: { val: { FuncCall: { funcname: [{ String: { sval: 'count' } }], agg_star: true } } } }],
      fromClause: [{ RangeVar: relation }],
      ...(where ? { whereClause: where } : {}),
      limitOption: 'LIMIT_OPTION_DEFAULT',
      op: 'SETOP_NONE',
    },
  };
  const sql = deparse(select);
  if (!sql || !parsesAs(sql, 'SelectStmt')) return { reason: 'the condition could not be rebuilt faithfully' };
  // The probe's condition must be the write's condition, literal for literal.
  const probeWhere = only(parseTree(sql).stmts?.[0]?.stmt ?? {})[1]?.whereClause;
  if (stripLocations(probeWhere) !== stripLocations(where))
    return { reason: 'the condition could not be rebuilt faithfully' };
  return sql;
}

function only(node: Record<string, unknown>): [string | undefined, TreeNode | undefined] {
  const keys = Object.keys(node);
  if (keys.length !== 1) return [undefined, undefined];
  return [keys[0], asNode(node[keys[0]!])];
}

function deparse(node: TreeNode): string | null {
  try {
    const out = deparseSync(node as never);
    return typeof out === 'string' && out.trim() !== '' ? out : null;
  } catch {
    return null;
  }
}

function parsesAs(sql: string, type: string): boolean {
  try {
    const stmts = parseTree(sql).stmts ?? [];
    return stmts.length === 1 && only(stmts[0]!.stmt)[0] === type;
  } catch {
    return false;
  }
}

function stripLocations(node: unknown): string {
  return JSON.stringify(node ?? null, (k, v) => (k === 'location' ? undefined : v));
}

function tableName(relation: TreeNode): string {
  const parts = [relation.catalogname, relation.schemaname, relation.relname].filter(
    (p): p is string => typeof p === 'string' && p !== '',
  );
  return parts.join('.');
}

/** The planner's top-level row estimate from `EXPLAIN (FORMAT JSON)` output, or null. */
export function planRows(explainJson: string | null | undefined): number | null {
  if (!explainJson) return null;
  try {
    const plan = (
      JSON.parse(explainJson) as [{ Plan?: { 'Plan Rows'?: unknown; Plans?: { 'Plan Rows'?: unknown }[] } }]
    )[0]?.Plan;
    // A ModifyTable node reports 0 rows (it returns none without RETURNING): the rows it
    // modifies are its input's.
    const top = plan?.['Plan Rows'];
    const input = plan?.Plans?.[0]?.['Plan Rows'];
    const rows = typeof input === 'number' ? input : top;
    return typeof rows === 'number' && Number.isFinite(rows) ? rows : null;
  } catch {
    return null;
  }
}
