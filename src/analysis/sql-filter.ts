// "Is this write bounded?" for `allWritesFiltered` (DESIGN.md §1). A WHERE counts only when some
// AND-ed term compares a column with a value that references no column (`id = 5`, `id IN (1, 2)`,
// `name LIKE 'a%'`, `id = $1`, `created_at < now() - interval '7 days'`), on the written table or
// on a table joined to it by a column-to-column term; `id = id`, `IS [NOT] NULL`, `EXISTS (…)`,
// constant conditions and boolean functions do not count. An OR counts when every branch does.
// A joined VALUES list or bounded subquery bounds the write too. INSERT … SELECT reads through
// such a WHERE or a literal LIMIT no larger than the configured bound; MERGE reads VALUES or a
// bounded query and joins on a real condition.
//
// This guards against accidents and clumsy attempts, not against every constant-true condition
// (`id > -1`, `name LIKE '%'`, an unqualified column that PostgreSQL resolves outward): it looks
// at the tree's shape, and at a LIMIT's value (which makes the facts literal-sensitive).
import { asList, asNode, asString, bodyOf, stringValue, type TreeNode, unwrap } from './sql-tree.js';

/** Inputs and side outputs of one filter decision. */
export interface FilterContext {
  /** `limits.boundedWriteRows`: the largest LIMIT that bounds an INSERT … SELECT. */
  readonly maxRows: number;
  /** Set when the decision read a literal's value (a LIMIT). */
  literalSensitive: boolean;
}

/** Which names refer to which FROM items of a statement, and what joins them. */
interface Scope {
  /** Qualifiers naming the written table (name, schema.name, alias) plus '' (unqualified). */
  target: Set<string>;
  /** Qualifiers of the other FROM / USING items, each mapped to its item's id. */
  items: Map<string, number>;
  /** Items that are bounded sources themselves (VALUES, bounded subqueries). */
  boundedItems: Set<number>;
  /** Column-to-column terms of JOIN … ON / USING, as pairs of qualifiers. */
  edges: [string, string][];
  itemCount: number;
  /** A SELECT's scope: its first FROM item becomes the target when it is added. */
  targetless: boolean;
}

const COMPARISONS = new Set(['=', '<', '>', '<=', '>=', '<>', '!=']);
const MATCHES = new Set(['~', '~*', '!~', '!~*', '~~', '~~*', '!~~', '!~~*', '@>', '<@', '&&', '@@', '?', '?|', '?&']);
const COMPARE_KINDS = new Set([
  'AEXPR_LIKE',
  'AEXPR_ILIKE',
  'AEXPR_SIMILAR',
  'AEXPR_DISTINCT',
  'AEXPR_NOT_DISTINCT',
  'AEXPR_IN',
  'AEXPR_BETWEEN',
  'AEXPR_NOT_BETWEEN',
  'AEXPR_BETWEEN_SYM',
  'AEXPR_NOT_BETWEEN_SYM',
]);
/** Expression nodes a column side may be built from (`lower(name)`, `data->>'k'`, `a::date`). */
const COLUMN_WRAPPERS = new Set(['TypeCast', 'CollateClause', 'FuncCall', 'A_Indirection', 'CoalesceExpr', 'A_Expr']);

function operatorName(body: TreeNode): string {
  const parts = asList(body['name']);
  return stringValue(parts[parts.length - 1]) ?? '';
}

function andTerms(condition: unknown, out: unknown[] = []): unknown[] {
  const wrapped = unwrap(condition);
  if (wrapped !== undefined && wrapped[0] === 'BoolExpr' && asString(wrapped[1]['boolop']) === 'AND_EXPR') {
    for (const arg of asList(wrapped[1]['args'])) andTerms(arg, out);
  } else if (condition !== undefined) {
    out.push(condition);
  }
  return out;
}

/** Qualifier of a column reference: '' when unqualified, else the lower-cased prefix. */
function qualifierOf(columnRef: TreeNode): string {
  const fields = asList(columnRef['fields']);
  if (fields.length < 2) return '';
  return fields
    .slice(0, -1)
    .map((f) => stringValue(f)?.toLowerCase() ?? '*')
    .join('.');
}

/** Qualifiers of the column references of `value` outside subqueries, or undefined when `value`
 * is not a column side (it has no column, or contains a boolean test such as `id = id`). */
function columnSide(value: unknown): Set<string> | undefined {
  const wrapped = unwrap(value);
  if (wrapped === undefined) return undefined;
  const [type, body] = wrapped;
  if (type === 'ColumnRef') return new Set([qualifierOf(body)]);
  if (!COLUMN_WRAPPERS.has(type)) return undefined;
  if (type === 'A_Expr') {
    const name = operatorName(body);
    if (asString(body['kind']) !== 'AEXPR_OP' || COMPARISONS.has(name) || MATCHES.has(name)) return undefined;
  }
  const children =
    type === 'FuncCall' || type === 'CoalesceExpr'
      ? asList(body['args'])
      : type === 'A_Expr'
        ? [body['lexpr'], body['rexpr']]
        : [body['arg']];
  let qualifiers: Set<string> | undefined;
  for (const child of children) {
    if (child === undefined) continue;
    const inner = columnSide(child);
    if (inner !== undefined) {
      qualifiers ??= new Set();
      for (const q of inner) qualifiers.add(q);
    } else if (!isValue(child, undefined)) {
      return undefined;
    }
  }
  return qualifiers;
}

/** True when `value` references no column (outside bounded, uncorrelated subqueries). */
function isValue(value: unknown, ctx: FilterContext | undefined): boolean {
  if (Array.isArray(value)) return value.every((v) => isValue(v, ctx));
  const node = asNode(value);
  if (node === undefined) return true;
  const wrapped = unwrap(node);
  if (wrapped !== undefined) {
    const [type, body] = wrapped;
    if (type === 'ColumnRef' || type === 'CurrentOfExpr') return false;
    if (type === 'SubLink') {
      if (asString(body['subLinkType']) !== 'EXPR_SUBLINK' && asString(body['subLinkType']) !== 'ARRAY_SUBLINK')
        return false;
      return isValueQuery(bodyOf(body['subselect'], 'SelectStmt'), ctx);
    }
  }
  for (const key in node) {
    const child = node[key];
    if (typeof child === 'object' && child !== null && !isValue(child, ctx)) return false;
  }
  return true;
}

/** A subquery that yields values: bounded, and its output does not copy an outer row's column. */
function isValueQuery(select: TreeNode | undefined, ctx: FilterContext | undefined): boolean {
  if (select === undefined) return false;
  const from = asList(select['fromClause']);
  if (from.length === 0) return isValue(select['targetList'], ctx);
  const own = new Set<string>();
  for (const item of from) collectQualifiers(item, own);
  if (referencesOther(select['targetList'], own)) return false;
  return isBoundedSelect(select, ctx ?? { maxRows: 0, literalSensitive: false });
}

function referencesOther(value: unknown, own: Set<string>): boolean {
  if (Array.isArray(value)) return value.some((v) => referencesOther(v, own));
  const node = asNode(value);
  if (node === undefined) return false;
  const column = bodyOf(node, 'ColumnRef');
  if (column !== undefined) {
    const q = qualifierOf(column);
    return q !== '' && !own.has(q);
  }
  for (const key in node) if (referencesOther(node[key], own)) return true;
  return false;
}

/** A term's contribution: a filter on these qualifiers, a join edge, or nothing. */
type Term = { filter: Set<string> } | { edge: [Set<string>, Set<string>] } | undefined;

function termOf(term: unknown, ctx: FilterContext): Term {
  const wrapped = unwrap(term);
  if (wrapped === undefined) return undefined;
  const [type, body] = wrapped;
  switch (type) {
    case 'ColumnRef': // a boolean column: `WHERE active`
      return { filter: new Set([qualifierOf(body)]) };
    case 'CurrentOfExpr':
      return { filter: new Set(['']) };
    case 'BooleanTest': {
      const test = asString(body['booltesttype']) ?? '';
      if (test === 'IS_UNKNOWN' || test === 'IS_NOT_UNKNOWN') return undefined;
      const side = columnSide(body['arg']);
      return side === undefined ? undefined : { filter: side };
    }
    case 'BoolExpr': {
      const args = asList(body['args']);
      const op = asString(body['boolop']);
      if (op === 'NOT_EXPR') {
        const inner = termOf(args[0], ctx);
        return inner !== undefined && 'filter' in inner ? inner : undefined;
      }
      if (op === 'OR_EXPR') {
        // Every branch must filter; the filter is on all the qualifiers the branches use.
        const all = new Set<string>();
        for (const arg of args) {
          const branch = branchFilter(arg, ctx);
          if (branch === undefined) return undefined;
          for (const q of branch) all.add(q);
        }
        return args.length > 0 ? { filter: all } : undefined;
      }
      return undefined;
    }
    case 'SubLink': {
      const linkType = asString(body['subLinkType']);
      if (linkType !== 'ANY_SUBLINK' && linkType !== 'ALL_SUBLINK') return undefined; // EXISTS alone
      const side = columnSide(body['testexpr']);
      if (side === undefined || !isValueQuery(bodyOf(body['subselect'], 'SelectStmt'), ctx)) return undefined;
      return { filter: side };
    }
    case 'A_Expr':
      return comparison(body, ctx);
    default:
      return undefined;
  }
}

function comparison(body: TreeNode, ctx: FilterContext): Term {
  const kind = asString(body['kind']) ?? '';
  const name = operatorName(body);
  const isCompare =
    COMPARE_KINDS.has(kind) ||
    ((kind === 'AEXPR_OP' || kind === 'AEXPR_OP_ANY' || kind === 'AEXPR_OP_ALL') &&
      (COMPARISONS.has(name) || MATCHES.has(name)));
  if (!isCompare) return undefined;
  const left = body['lexpr'];
  const right = body['rexpr'];
  const leftColumn = columnSide(left);
  const rightColumn = kind === 'AEXPR_IN' || kind.includes('BETWEEN') ? undefined : columnSide(right);
  if (leftColumn !== undefined && rightColumn !== undefined) return { edge: [leftColumn, rightColumn] };
  if (leftColumn !== undefined && isValue(right, ctx)) return { filter: leftColumn };
  if (rightColumn !== undefined && isValue(left, ctx)) return { filter: rightColumn };
  return undefined;
}

/** The qualifiers a condition filters on when it is a filter by itself (an OR branch). */
function branchFilter(condition: unknown, ctx: FilterContext): Set<string> | undefined {
  for (const term of andTerms(condition)) {
    const t = termOf(term, ctx);
    if (t !== undefined && 'filter' in t) return t.filter;
  }
  return undefined;
}

// ---- scopes ------------------------------------------------------------------------------

function rangeVarQualifiers(body: TreeNode, into: Set<string>): void {
  const relname = asString(body['relname'])?.toLowerCase();
  const alias = asString(asNode(body['alias'])?.['aliasname'])?.toLowerCase();
  if (alias !== undefined) into.add(alias);
  if (relname !== undefined) {
    into.add(relname);
    const schema = asString(body['schemaname'])?.toLowerCase();
    if (schema !== undefined) into.add(`${schema}.${relname}`);
  }
}

function collectQualifiers(item: unknown, into: Set<string>): void {
  const wrapped = unwrap(item);
  if (wrapped === undefined) {
    const bare = asNode(item);
    if (bare !== undefined && typeof bare['relname'] === 'string') rangeVarQualifiers(bare, into);
    return;
  }
  const [type, body] = wrapped;
  if (type === 'RangeVar') rangeVarQualifiers(body, into);
  else if (type === 'JoinExpr') {
    collectQualifiers(body['larg'], into);
    collectQualifiers(body['rarg'], into);
  } else {
    const alias = asString(asNode(body['alias'])?.['aliasname'])?.toLowerCase();
    if (alias !== undefined) into.add(alias);
  }
}

function newScope(target: Set<string>): Scope {
  target.add('');
  return { target, items: new Map(), boundedItems: new Set(), edges: [], itemCount: 0, targetless: false };
}

/** Adds a FROM / USING item (and, for joins, its ON / USING terms as edges). */
function addItem(scope: Scope, item: unknown, ctx: FilterContext): void {
  const wrapped = unwrap(item);
  if (wrapped !== undefined && wrapped[0] === 'JoinExpr') {
    const join = wrapped[1];
    addItem(scope, join['larg'], ctx);
    addItem(scope, join['rarg'], ctx);
    const left = new Set<string>();
    const right = new Set<string>();
    collectQualifiers(join['larg'], left);
    collectQualifiers(join['rarg'], right);
    if (asList(join['usingClause']).length > 0 || join['isNatural'] === true) {
      for (const l of left) for (const r of right) scope.edges.push([l, r]);
    }
    for (const term of andTerms(join['quals'])) {
      const t = termOf(term, ctx);
      if (t !== undefined && 'edge' in t) pushEdges(scope, t.edge);
    }
    return;
  }
  const names = new Set<string>();
  collectQualifiers(item, names);
  if (scope.targetless) {
    scope.targetless = false;
    for (const name of names) scope.target.add(name);
    return;
  }
  const id = scope.itemCount++;
  for (const name of names) if (!scope.target.has(name)) scope.items.set(name, id);
  const subselect = bodyOf(bodyOf(item, 'RangeSubselect')?.['subquery'], 'SelectStmt');
  if (subselect !== undefined && isBoundedSelect(subselect, ctx)) scope.boundedItems.add(id);
}

function pushEdges(scope: Scope, [a, b]: [Set<string>, Set<string>]): void {
  for (const x of a) for (const y of b) if (x !== y) scope.edges.push([x, y]);
}

/** True when `condition` filters the target rows of `scope` (see the file comment). */
function filtersScope(condition: unknown, scope: Scope, ctx: FilterContext): boolean {
  const filters: Set<string>[] = [];
  for (const term of andTerms(condition)) {
    const t = termOf(term, ctx);
    if (t === undefined) continue;
    if ('filter' in t) filters.push(t.filter);
    else pushEdges(scope, t.edge);
  }
  // Items reachable from the target through column-to-column terms; '' counts as the target
  // for edges (an unqualified column most likely belongs to the written table).
  const connected = new Set<number>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [a, b] of scope.edges) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        const reached = scope.target.has(from) || connected.has(scope.items.get(from) ?? -1);
        const id = scope.items.get(to);
        if (reached && id !== undefined && !connected.has(id)) {
          connected.add(id);
          grew = true;
        }
      }
    }
  }
  for (const id of scope.boundedItems) if (connected.has(id)) return true;
  const allConnected = connected.size === scope.itemCount;
  const counts = (q: string): boolean => {
    if (q === '') return allConnected; // ambiguous when some item is not joined
    if (scope.target.has(q)) return true;
    const id = scope.items.get(q);
    return id !== undefined && connected.has(id);
  };
  return filters.some((f) => f.size > 0 && [...f].every(counts));
}

function targetQualifiers(relation: unknown): Set<string> {
  const out = new Set<string>();
  const node = asNode(relation);
  if (node !== undefined) rangeVarQualifiers(node, out);
  return out;
}

/** UPDATE … [FROM …] WHERE / DELETE … [USING …] WHERE. */
export function isFilteredWrite(
  relation: unknown,
  joined: readonly unknown[],
  where: unknown,
  ctx: FilterContext,
): boolean {
  if (where === undefined) return false;
  const scope = newScope(targetQualifiers(relation));
  for (const item of joined) addItem(scope, item, ctx);
  return filtersScope(where, scope, ctx);
}

/** MERGE: reads VALUES or a bounded query, and joins on a condition that is not constant-true. */
export function isFilteredMerge(body: TreeNode, ctx: FilterContext): boolean {
  const source = body['sourceRelation'];
  const subselect = bodyOf(bodyOf(source, 'RangeSubselect')?.['subquery'], 'SelectStmt');
  if (subselect === undefined || !isBoundedSelect(subselect, ctx)) return false;
  const scope = newScope(targetQualifiers(body['relation']));
  addItem(scope, source, ctx);
  return filtersScope(body['joinCondition'], scope, ctx);
}

/** True when a SELECT (the source of INSERT … SELECT, a subquery) returns a bounded row set. */
export function isBoundedSelect(select: TreeNode | undefined, ctx: FilterContext): boolean {
  if (select === undefined) return true; // INSERT … DEFAULT VALUES
  if (select['valuesLists'] !== undefined) return true;
  const op = asString(select['op']);
  if (op !== undefined && op !== 'SETOP_NONE') {
    return isBoundedSelect(asNode(select['larg']), ctx) && isBoundedSelect(asNode(select['rarg']), ctx);
  }
  if (isSmallLimit(select['limitCount'], ctx)) return true;
  const from = asList(select['fromClause']);
  // No FROM: one row, unless a set-returning function (generate_series, …) multiplies it.
  if (from.length === 0) return !callsFunction(select['targetList']);
  // The first FROM item plays the written table's part; the others must be joined to it.
  const scope = newScope(new Set());
  scope.targetless = true;
  for (const item of from) addItem(scope, item, ctx);
  if (select['whereClause'] === undefined) return false;
  return filtersScope(select['whereClause'], scope, ctx);
}

function isSmallLimit(limit: unknown, ctx: FilterContext): boolean {
  const constant = bodyOf(limit, 'A_Const');
  if (constant === undefined) return false;
  ctx.literalSensitive = true; // `LIMIT 10` and `LIMIT 1000000` normalize alike
  const ival = asNode(constant['ival']);
  if (ival === undefined) return false;
  const value = ival['ival'] ?? 0; // libpg-query omits zero
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= ctx.maxRows;
}

function callsFunction(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(callsFunction);
  const node = asNode(value);
  if (node === undefined) return false;
  if ('FuncCall' in node) return true;
  if ('SubLink' in node) return false; // a scalar subquery yields one value
  for (const key in node) if (callsFunction(node[key])) return true;
  return false;
}
