// Functions that run SQL given to them as text (`ts_stat('select …')`, `query_to_xml('…', …)`,
// `dblink('…', '…')`) or read a table named by text (`table_to_xml('customers', …)`). The SQL
// the server will run is inside a string literal, invisible to a walk of the outer tree: a
// literal argument is parsed and analyzed as a statement of its own; a non-literal one (a column,
// a parameter, `'a' || 'b'`) makes the statement's SQL dynamic (`dynamicSql`), which policies
// block. Function names are matched without schema, like `functions`, except for extension
// functions whose bare names are too common (`cron.schedule`), which must be qualified.
import { ParserCrash, parseTree, SqlSyntaxError } from './pg-parser.js';
import { boundsProblem } from './sql-bounds.js';
import { normalizeSql } from './sql-lexer.js';
import { asList, asNode, asString, bodyOf, type TreeNode } from './sql-tree.js';

/** SQL in a string argument cannot be analyzed (syntax error, too complex, parser crash): the
 * whole text is refused as unparsed. */
export class NestedSqlError extends Error {
  override name = 'NestedSqlError';
}

export interface NestedSqlArgs {
  /** The function runs SQL the analysis cannot see at all (`database_to_xml`, an unknown named argument). */
  dynamic: boolean;
  /** Arguments holding SQL text (`table: false`) or a relation name (`table: true`). */
  args: { arg: unknown; table: boolean }[];
}

/** Which positional arguments hold SQL, given the positional arguments. */
type Positions = (args: readonly unknown[]) => number[];

interface NestedFunction {
  positions: Positions;
  /** Parameter names that hold the SQL (for `f(query => '…')`). */
  names: readonly string[];
  table?: boolean;
}

const first: Positions = (args) => (args.length > 0 ? [0] : []);
const second: Positions = (args) => (args.length > 1 ? [1] : []);

function isBooleanConstant(value: unknown): boolean {
  const constant = bodyOf(value, 'A_Const');
  if (constant !== undefined) return constant['boolval'] !== undefined;
  const cast = bodyOf(value, 'TypeCast');
  const names = asList(asNode(cast?.['typeName'])?.['names']).map((n) => asString(bodyOf(n, 'String')?.['sval']));
  return names.includes('bool');
}

// dblink(sql), dblink(conn, sql), dblink(sql, fail_on_error bool), dblink(conn, sql, bool).
const dblinkQuery: Positions = (args) => {
  if (args.length === 1) return [0];
  if (args.length === 2) return isBooleanConstant(args[1]) ? [0] : [1];
  return args.length > 2 ? [1] : [];
};
// dblink_open(cursor, sql [, bool]) or dblink_open(conn, cursor, sql [, bool]).
const dblinkOpenQuery: Positions = (args) => {
  if (args.length === 2) return [1];
  if (args.length === 3) return isBooleanConstant(args[2]) ? [1] : [2];
  return args.length > 3 ? [2] : [];
};

const QUERY: NestedFunction = { positions: first, names: ['query'] };
const TABLE: NestedFunction = { positions: first, names: ['tbl'], table: true };
/** Functions that read a whole schema or database: nothing to analyze, always dynamic. */
const EVERYTHING: NestedFunction = { positions: () => [], names: [] };

const NESTED: ReadonlyMap<string, NestedFunction> = new Map<string, NestedFunction>([
  // Text search: ts_stat(sqlquery [, weights]); ts_rewrite(query, select) (the 2-argument form).
  ['ts_stat', { positions: first, names: ['sqlquery', 'query'] }],
  ['ts_rewrite', { positions: (args) => (args.length === 2 ? [1] : []), names: ['select'] }],
  // XML: query_to_xml(query, nulls, tableforest, targetns) and friends; table_to_xml(tbl regclass, …).
  ['query_to_xml', QUERY],
  ['query_to_xmlschema', QUERY],
  ['query_to_xml_and_xmlschema', QUERY],
  ['table_to_xml', TABLE],
  ['table_to_xmlschema', TABLE],
  ['table_to_xml_and_xmlschema', TABLE],
  ['schema_to_xml', EVERYTHING],
  ['schema_to_xmlschema', EVERYTHING],
  ['schema_to_xml_and_xmlschema', EVERYTHING],
  ['database_to_xml', EVERYTHING],
  ['database_to_xmlschema', EVERYTHING],
  ['database_to_xml_and_xmlschema', EVERYTHING],
  // dblink: the SQL runs on another (often the same) server.
  ['dblink', { positions: dblinkQuery, names: [] }],
  ['dblink_exec', { positions: dblinkQuery, names: [] }],
  ['dblink_open', { positions: dblinkOpenQuery, names: [] }],
  ['dblink_send_query', { positions: second, names: [] }],
  // pg_background: runs SQL in a background worker.
  ['pg_background_launch', { positions: first, names: ['sql'] }],
  // Citus: runs SQL on the cluster's nodes.
  ['run_command_on_workers', { positions: first, names: ['command'] }],
  ['run_command_on_all_nodes', { positions: first, names: ['command'] }],
  ['run_command_on_coordinator', { positions: first, names: ['command'] }],
  ['run_command_on_shards', { positions: second, names: ['command'] }],
  ['run_command_on_placements', { positions: second, names: ['command'] }],
  ['run_command_on_colocated_placements', { positions: (args) => (args.length > 2 ? [2] : []), names: ['command'] }],
  // pg_cron (qualified only): schedule([name,] schedule, command), schedule_in_database(name, schedule, command, db …).
  [
    'cron.schedule',
    { positions: (args) => (args.length === 2 ? [1] : args.length > 2 ? [2] : []), names: ['command'] },
  ],
  ['cron.schedule_in_database', { positions: (args) => (args.length > 2 ? [2] : []), names: ['command'] }],
  ['cron.alter_job', { positions: (args) => (args.length > 2 ? [2] : []), names: ['command'] }],
]);

/** The SQL-bearing arguments of a call to `schema.name(args)`, or undefined for other functions. */
export function nestedSqlArgs(
  schema: string | undefined,
  name: string,
  args: readonly unknown[],
): NestedSqlArgs | undefined {
  const fn = (schema !== undefined ? NESTED.get(`${schema}.${name}`) : undefined) ?? NESTED.get(name);
  if (fn === undefined) return undefined;
  const positional: unknown[] = [];
  const result: NestedSqlArgs = { dynamic: fn === EVERYTHING, args: [] };
  let named = false;
  for (const arg of args) {
    const namedArg = bodyOf(arg, 'NamedArgExpr');
    if (namedArg === undefined) {
      positional.push(arg);
      continue;
    }
    named = true;
    const argName = asString(namedArg['name'])?.toLowerCase() ?? '';
    if (fn.names.includes(argName)) result.args.push({ arg: namedArg['arg'], table: fn.table === true });
  }
  for (const at of fn.positions(positional)) result.args.push({ arg: positional[at], table: fn.table === true });
  // Named arguments the table does not know, and no SQL found: cannot tell what runs.
  if (named && result.args.length === 0 && fn !== EVERYTHING) result.dynamic = true;
  return result;
}

/** A string constant (`'…'`, `E'…'`, `$$…$$`, `'…'::text`, `CAST('…' AS text)`, `text '…'`).
 * `constant`: the argument is a literal of any type (its value decides the facts). */
export function stringLiteral(value: unknown): { constant: boolean; value?: string } {
  let node: unknown = value;
  for (let casts = 0; casts < 8; casts++) {
    const cast = bodyOf(node, 'TypeCast');
    if (cast === undefined) break;
    node = cast['arg'];
  }
  const constant = bodyOf(node, 'A_Const');
  if (constant === undefined) return { constant: false };
  const text = asString(asNode(constant['sval'])?.['sval']);
  return text === undefined ? { constant: true } : { constant: true, value: text };
}

/** The statements of SQL found in a string literal; NestedSqlError when it cannot be analyzed. */
export function parseNestedSql(text: string): TreeNode[] {
  const normalized = normalizeSql(text);
  const problem = boundsProblem(normalized);
  if (problem !== null) throw new NestedSqlError(`SQL in a string argument is ${problem}`);
  if (!normalized.complete) throw new NestedSqlError('SQL in a string argument is not complete');
  if (normalized.text === '') return [];
  try {
    return (parseTree(text, normalized.cost).stmts ?? []).map((s) => s.stmt);
  } catch (error) {
    if (error instanceof SqlSyntaxError || error instanceof ParserCrash) {
      throw new NestedSqlError(`SQL in a string argument does not parse: ${error.message}`);
    }
    throw error;
  }
}
