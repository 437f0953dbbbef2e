// Column lineage: for every output column of a statement (SELECT, RETURNING, COPY (query) TO,
// VALUES…), the source columns (`[schema.]table.column`) its value is computed from, read off
// libpg-query's tree. Protocol-neutral: it takes a catalog (which relations exist, their columns,
// what a view's columns come from, which functions are user-defined) and works without one, with
// symbolic answers (`customers.*` for a whole row of a table it cannot list).
//
// What carries a value (see docs in README "Masking follows the data"):
// - every expression, function, cast, operator, aggregate, window function, CASE result,
//   COALESCE, ROW(…), array, JSON constructor, scalar/ARRAY subquery, set-operation arm, CTE
//   column, LATERAL/function-in-FROM column, VALUES cell carries the union of what it reads;
// - a *test* does not carry the value but reads it: comparisons (`=`, `<`, LIKE, `~`, IN,
//   BETWEEN, IS DISTINCT FROM, ANY/ALL), AND/OR/NOT, IS TRUE, EXISTS, CASE WHEN conditions. Their
//   columns are filter columns (an oracle one bit per row), like WHERE / JOIN ON / HAVING /
//   ORDER BY, window PARTITION/ORDER BY, aggregate ORDER BY and FILTER;
// - `count(x)` and `x IS [NOT] NULL` reveal only whether x is null: for a plain column nothing is
//   carried and nothing filtered; for a computed x (`count(nullif(substr(ssn,1,1),'5'))`) x's
//   columns are filter columns. `length(x)` carries: a length can encode any part of a value
//   (`length(repeat('x', ascii(ssn)))`).
// What lineage cannot see into (a user-defined function, SQL given as text, a cursor's FETCH, an
// EXECUTE) is *unresolved*: callers mask it when masking applies (fail closed).

import { nestedSqlArgs } from './sql-nested.js';
import type { TreeNode } from './sql-tree.js';
import { asList, asNode, asString, bodyOf, stringValue, unwrap } from './sql-tree.js';

/** One output column. `sources` are lower-case `[schema.]table.column`, or `table.*` for a whole
 * row of a table whose columns the catalog did not list. */
export interface OutputLineage {
  readonly name: string;
  readonly sources: readonly string[];
  /** Some part of the value could not be traced (user function, dynamic SQL, unknown name). */
  readonly unresolved: boolean;
  /** `*` of a relation whose columns are unknown: stands for that many columns (width unknown). */
  readonly star?: boolean;
  /** `row_to_json(t)`-like over a base table row: JSON whose keys are the table's column names. */
  readonly jsonRow?: boolean;
}

export interface StatementLineage {
  /** The result's columns in order; null when the statement's rows cannot be traced (FETCH,
   * EXECUTE, CALL, …) or it returns none known to lineage. */
  readonly outputs: readonly OutputLineage[] | null;
  /** Every source column the statement reads anywhere. */
  readonly reads: readonly string[];
  /** Source columns read by WHERE, JOIN … ON/USING, HAVING, ORDER BY and tests (see above). */
  readonly filters: readonly string[];
  /** The statement reads through something lineage cannot see into. */
  readonly opaque: boolean;
  /** Depends on a literal's value (`ORDER BY 2` names an output): not shareable across literals. */
  readonly literalSensitive: boolean;
  /** Values the statement writes into tables (INSERT, UPDATE SET, MERGE, ON CONFLICT, SELECT
   * INTO, CREATE TABLE AS), with their sources: copying a masked column elsewhere unmasks it. */
  readonly writes: readonly WrittenValue[];
}

export interface WrittenValue {
  /** `table.column` written to (`table.?` when the column is known only by position). */
  readonly target: string;
  readonly sources: readonly string[];
  readonly unresolved: boolean;
}

export interface CatalogRelation {
  /** `schema.table`, lower-case. */
  readonly qualified: string;
  readonly columns: readonly string[];
  /** A view's columns: each column's sources (already resolved through other views). */
  readonly sources?: readonly (readonly string[])[];
  /** A view column that could not be traced. */
  readonly unresolved?: readonly boolean[];
}

export interface LineageCatalog {
  /** A relation as a statement names it (lower-case, `schema.table` when qualified). */
  relation(name: string): CatalogRelation | undefined;
  /** True when the function (lower-case, without schema) is not PostgreSQL's own. */
  isUserFunction(name: string): boolean;
}

/** How deep subqueries and expressions are followed; deeper is unresolved. */
const MAX_DEPTH = 200;

interface Val {
  sources: Set<string>;
  unresolved: boolean;
}

interface Column {
  name: string;
  val: Val;
  star?: boolean;
  jsonRow?: boolean;
}

interface RangeEntry {
  /** The name that qualifies its columns (alias, or the relation's own name). */
  alias: string;
  /** Base relation as written (lower-case), for `schema.table.column` references. */
  relation?: string;
  /** Known columns (subquery, CTE, VALUES, a relation the catalog lists). */
  columns?: Column[];
  /** The whole row as one value. */
  whole: Val;
  /** Any column of it has this value (functions in FROM without a column list). */
  opaque?: Val;
  /** A base table (not a view, CTE or subquery): `row_to_json(t)` keys are its column names. */
  baseTable?: boolean;
}

class Scope {
  readonly entries: RangeEntry[] = [];
  readonly ctes = new Map<string, Column[]>();
  constructor(readonly parent: Scope | null) {}

  cte(name: string): Column[] | undefined {
    for (let s: Scope | null = this; s !== null; s = s.parent) {
      const hit = s.ctes.get(name);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
}

const COMPARISON_OPS = new Set([
  '=',
  '<>',
  '!=',
  '<',
  '>',
  '<=',
  '>=',
  '~~',
  '!~~',
  '~~*',
  '!~~*',
  '~',
  '!~',
  '~*',
  '!~*',
  '@@',
  '&&',
  '<@',
  '@>',
  '?',
  '?|',
  '?&',
  '^@',
]);
const TEST_EXPR_KINDS = new Set([
  'AEXPR_OP_ANY',
  'AEXPR_OP_ALL',
  'AEXPR_DISTINCT',
  'AEXPR_NOT_DISTINCT',
  'AEXPR_IN',
  'AEXPR_LIKE',
  'AEXPR_ILIKE',
  'AEXPR_SIMILAR',
  'AEXPR_BETWEEN',
  'AEXPR_NOT_BETWEEN',
  'AEXPR_BETWEEN_SYM',
  'AEXPR_NOT_BETWEEN_SYM',
]);
/** Functions whose result says only whether their argument is null. */
const NULLNESS_FUNCTIONS = new Set(['count', 'num_nulls', 'num_nonnulls']);
/** JSON of a whole row: the keys are the row's column names. */
const ROW_JSON_FUNCTIONS = new Set(['row_to_json', 'to_json', 'to_jsonb', 'json_agg', 'jsonb_agg']);

const none = (): Val => ({ sources: new Set(), unresolved: false });
const unresolvedVal = (): Val => ({ sources: new Set(), unresolved: true });
const of = (...sources: string[]): Val => ({ sources: new Set(sources), unresolved: false });

function join(into: Val, from: Val): Val {
  for (const s of from.sources) into.sources.add(s);
  if (from.unresolved) into.unresolved = true;
  return into;
}

const EMPTY_CATALOG: LineageCatalog = { relation: () => undefined, isUserFunction: () => false };

class LineageWalker {
  readonly reads = new Set<string>();
  readonly filters = new Set<string>();
  readonly writes: WrittenValue[] = [];
  opaque = false;
  literalSensitive = false;
  private depth = 0;

  constructor(private readonly catalog: LineageCatalog) {}

  // ---- statements --------------------------------------------------------------------------

  statement(stmt: unknown): StatementLineage {
    const outputs = this.outputsOf(stmt);
    return {
      outputs: outputs === null ? null : outputs.map(toOutput),
      reads: [...this.reads],
      filters: [...this.filters],
      opaque: this.opaque,
      literalSensitive: this.literalSensitive,
      writes: this.writes,
    };
  }

  private outputsOf(stmt: unknown): Column[] | null {
    const wrapped = unwrap(stmt);
    if (wrapped === undefined) return null;
    const [type, body] = wrapped;
    const root = new Scope(null);
    switch (type) {
      case 'SelectStmt': {
        const outputs = this.select(body, root);
        const into = asNode(asNode(body['intoClause'])?.['rel']);
        if (into === undefined) return outputs;
        // SELECT … INTO t: no rows; the values go into a new table.
        for (const o of outputs) this.written(relationName(into), o.name, o.val);
        return [];
      }
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return this.write(type, body, root);
      case 'CopyStmt':
        return this.copy(body, root);
      case 'ExplainStmt': {
        // The plan text shows the statement, not its data (EXPLAIN ANALYZE runs it, rows discarded).
        this.outputsOf(body['query']);
        return [{ name: 'QUERY PLAN', val: none() }];
      }
      case 'VariableShowStmt':
        return [{ name: asString(body['name'])?.toLowerCase() ?? 'setting', val: none() }];
      case 'DeclareCursorStmt':
      case 'PrepareStmt':
        // Rows come later (FETCH, EXECUTE); this reads nothing now, but its query's filters count.
        this.outputsOf(body['query']);
        return [];
      case 'CreateTableAsStmt': {
        const into = asNode(asNode(body['into'])?.['rel']);
        const names = asList(asNode(body['into'])?.['colNames']).map(stringValue);
        const outputs = this.outputsOf(body['query']) ?? [{ name: '?', val: unresolvedVal() }];
        const table = into === undefined ? '?' : relationName(into);
        outputs.forEach((o, i) => {
          this.written(table, names[i] ?? o.name, o.val);
        });
        return [];
      }
      default:
        // FETCH, EXECUTE, CALL and anything else that may return rows: not traced.
        this.opaque = true;
        return null;
    }
  }

  private write(type: string, body: TreeNode, parent: Scope): Column[] {
    const scope = new Scope(parent);
    this.withClause(body, scope);
    const target = asNode(body['relation']);
    const table = target === undefined ? '?' : relationName(target);
    // INSERT … SELECT / VALUES: the query does not see the target; its columns go in by position.
    const select = bodyOf(body['selectStmt'], 'SelectStmt');
    if (select !== undefined) {
      const names = asList(body['cols']).map((c) => asString(bodyOf(c, 'ResTarget')?.['name']));
      const columns = this.catalog.relation(table)?.columns;
      this.select(select, scope).forEach((out, i) => {
        this.written(table, names[i] ?? columns?.[i], out.val);
      });
    }
    if (target !== undefined) {
      const entry = this.addRangeVar(target, scope);
      // RETURNING old.x / new.x (PostgreSQL 18) name the target's row before and after.
      scope.entries.push({ ...entry, alias: 'old' }, { ...entry, alias: 'new' });
    }
    for (const item of asList(body[type === 'DeleteStmt' ? 'usingClause' : 'fromClause'])) this.fromItem(item, scope);
    if (type === 'MergeStmt') this.fromItem(body['sourceRelation'], scope);
    this.filter(body['whereClause'], scope);
    this.filter(body['joinCondition'], scope);
    this.setList(table, asList(body['targetList']), scope);
    for (const clause of asList(body['mergeWhenClauses'])) {
      const c = bodyOf(clause, 'MergeWhenClause');
      this.filter(c?.['condition'], scope);
      const values = asList(c?.['values']);
      if (values.length > 0) {
        const names = asList(c?.['targetList']).map((t) => asString(bodyOf(t, 'ResTarget')?.['name']));
        values.forEach((v, i) => {
          this.written(table, names[i], this.expr(v, scope));
        });
      } else this.setList(table, asList(c?.['targetList']), scope);
    }
    const onConflict = asNode(body['onConflictClause']);
    if (onConflict !== undefined) {
      this.filter(onConflict['whereClause'], scope);
      this.setList(table, asList(onConflict['targetList']), scope);
    }
    // libpg-query 17+ wraps RETURNING (PostgreSQL 18: `RETURNING old.*, new.*`); older, a list.
    const returning = asNode(body['returningClause'])?.['exprs'] ?? body['returningList'];
    return this.targets(asList(returning), scope);
  }

  /** `SET col = expr, …`: each value is written into its column. */
  private setList(table: string, targets: unknown[], scope: Scope): void {
    for (const t of targets) {
      const target = bodyOf(t, 'ResTarget');
      if (target === undefined) continue;
      this.written(table, asString(target['name']), this.expr(target['val'], scope));
    }
  }

  /** A value written into `table.column` (column unknown: `table.?`). */
  private written(table: string, column: string | undefined, val: Val): void {
    if (val.sources.size === 0 && !val.unresolved) return;
    this.writes.push({
      target: `${table}.${column?.toLowerCase() ?? '?'}`,
      sources: [...val.sources].sort(),
      unresolved: val.unresolved,
    });
  }

  private copy(body: TreeNode, scope: Scope): Column[] | null {
    if (body['is_from'] === true) return [];
    if (body['query'] !== undefined) {
      const wrapped = unwrap(body['query']);
      if (wrapped === undefined) return null;
      if (wrapped[0] === 'SelectStmt') return this.select(wrapped[1], scope);
      return this.outputsOf(body['query']);
    }
    const relation = asNode(body['relation']);
    if (relation === undefined) return null;
    const entry = this.addRangeVar(relation, scope);
    const attlist = asList(body['attlist']).map(stringValue);
    if (attlist.length > 0)
      return attlist.map((name) => ({ name: name ?? '?column?', val: this.columnOf(entry, name ?? '') }));
    return this.starOf(entry);
  }

  // ---- SELECT ------------------------------------------------------------------------------

  private select(body: TreeNode, parent: Scope): Column[] {
    if (++this.depth > MAX_DEPTH) {
      this.depth--;
      this.opaque = true;
      return [{ name: '?column?', val: unresolvedVal() }];
    }
    try {
      const scope = new Scope(parent);
      this.withClause(body, scope);
      const op = asString(body['op']);
      if (op !== undefined && op !== 'SETOP_NONE') {
        const left = this.select(asNode(body['larg']) ?? {}, scope);
        const right = this.select(asNode(body['rarg']) ?? {}, scope);
        for (const s of asList(body['sortClause'])) this.filter(bodyOf(s, 'SortBy')?.['node'], scope);
        this.reads_(body['limitCount'], scope);
        return unionColumns(left, right);
      }
      const values = asList(body['valuesLists']);
      if (values.length > 0) return this.values(values, scope);
      for (const item of asList(body['fromClause'])) this.fromItem(item, scope);
      this.filter(body['whereClause'], scope);
      this.filter(body['havingClause'], scope);
      for (const g of asList(body['groupClause'])) this.expr(g, scope);
      for (const d of asList(body['distinctClause'])) this.expr(d, scope);
      for (const w of asList(body['windowClause'])) this.windowDef(asNode(bodyOf(w, 'WindowDef')), scope);
      const outputs = this.targets(asList(body['targetList']), scope);
      // ORDER BY may name an output column (`ORDER BY e`, `ORDER BY 1`): its sources are filters.
      for (const s of asList(body['sortClause'])) this.orderBy(bodyOf(s, 'SortBy')?.['node'], scope, outputs);
      this.reads_(body['limitCount'], scope);
      this.reads_(body['limitOffset'], scope);
      return outputs;
    } finally {
      this.depth--;
    }
  }

  private values(rows: unknown[], scope: Scope): Column[] {
    const out: Column[] = [];
    for (const row of rows) {
      const items = asList(bodyOf(row, 'List')?.['items']);
      items.forEach((item, i) => {
        out[i] ??= { name: `column${i + 1}`, val: none() };
        join(out[i]!.val, this.expr(item, scope));
      });
    }
    return out;
  }

  private withClause(body: TreeNode, scope: Scope): void {
    const clause = asNode(body['withClause']);
    if (clause === undefined) return;
    const recursive = clause['recursive'] === true;
    for (const c of asList(clause['ctes'])) {
      const cte = bodyOf(c, 'CommonTableExpr');
      const name = asString(cte?.['ctename']);
      if (cte === undefined || name === undefined) continue;
      const rename = asList(cte['aliascolnames']).map(stringValue);
      const compute = (): Column[] => {
        const wrapped = unwrap(cte['ctequery']);
        let cols: Column[] | null;
        if (wrapped?.[0] === 'SelectStmt') cols = this.select(wrapped[1], scope);
        else if (wrapped !== undefined && ['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'].includes(wrapped[0]))
          cols = this.write(wrapped[0], wrapped[1], scope);
        else cols = null;
        if (cols === null) return [{ name: '?column?', val: unresolvedVal() }];
        return cols.map((col, i) => ({ ...col, name: rename[i] ?? col.name }));
      };
      if (!recursive) {
        scope.ctes.set(name, compute());
        continue;
      }
      // A recursive CTE reads itself: start from its non-recursive arm, then iterate until its
      // columns' sources stop growing.
      const query = bodyOf(cte['ctequery'], 'SelectStmt');
      const seedArm = asNode(query?.['larg']);
      const seed =
        seedArm !== undefined && asString(query?.['op']) !== 'SETOP_NONE'
          ? this.select(seedArm, scope).map((col, i) => ({ ...col, name: rename[i] ?? col.name }))
          : rename.map((n) => ({ name: n ?? '?column?', val: none() }));
      scope.ctes.set(name, seed);
      let cols = compute();
      for (let round = 0; round < 8; round++) {
        scope.ctes.set(name, cols);
        const next = unionColumns(cols, compute());
        if (sameColumns(next, cols)) break;
        cols = next;
        if (round === 7) for (const col of cols) col.val.unresolved = true;
      }
      scope.ctes.set(name, cols);
    }
  }

  private targets(list: unknown[], scope: Scope): Column[] {
    const out: Column[] = [];
    for (const t of list) {
      const target = bodyOf(t, 'ResTarget');
      if (target === undefined) continue;
      const val = target['val'];
      const ref = bodyOf(val, 'ColumnRef');
      const fields = asList(ref?.['fields']);
      if (ref !== undefined && bodyOf(fields[fields.length - 1], 'A_Star') !== undefined) {
        out.push(...this.star(fields, scope));
        continue;
      }
      const column: Column = { name: asString(target['name']) ?? nameOf(val), val: this.expr(val, scope) };
      if (this.isRowJson(val, scope)) column.jsonRow = true;
      out.push(column);
    }
    return out;
  }

  /** `row_to_json(t)`-like over a base table's row (keys are its column names). */
  private isRowJson(val: unknown, scope: Scope): boolean {
    const call = bodyOf(val, 'FuncCall');
    if (call === undefined) return false;
    const parts = asList(call['funcname']);
    const name = stringValue(parts[parts.length - 1])?.toLowerCase();
    const args = asList(call['args']);
    if (name === undefined || !ROW_JSON_FUNCTIONS.has(name) || args.length !== 1) return false;
    const fields = asList(bodyOf(args[0], 'ColumnRef')?.['fields']);
    const first = stringValue(fields[0]);
    if (first === undefined) return false;
    if (!(fields.length === 1 || (fields.length === 2 && bodyOf(fields[1], 'A_Star') !== undefined))) return false;
    const entry = this.entryByAlias(first, scope);
    return entry?.baseTable === true;
  }

  private orderBy(node: unknown, scope: Scope, outputs: Column[]): void {
    const position = bodyOf(node, 'A_Const')?.['ival'];
    const index = asNode(position)?.['ival'];
    if (typeof index === 'number') this.literalSensitive = true;
    if (typeof index === 'number' && outputs[index - 1] !== undefined) {
      this.addFilters(outputs[index - 1]!.val);
      return;
    }
    const fields = asList(bodyOf(node, 'ColumnRef')?.['fields']);
    if (fields.length === 1) {
      const name = stringValue(fields[0]);
      const output = outputs.find((o) => o.name === name);
      if (output !== undefined) {
        this.addFilters(output.val);
        return;
      }
    }
    this.filter(node, scope);
  }

  // ---- FROM ---------------------------------------------------------------------------------

  private fromItem(item: unknown, scope: Scope): void {
    const wrapped = unwrap(item);
    if (wrapped === undefined) return;
    const [type, body] = wrapped;
    switch (type) {
      case 'RangeVar':
        this.addRangeVar(body, scope);
        return;
      case 'RangeSubselect': {
        const sub = bodyOf(body['subquery'], 'SelectStmt');
        const cols = sub === undefined ? [{ name: '?column?', val: unresolvedVal() }] : this.select(sub, scope);
        this.addDerived(cols, asNode(body['alias']), scope);
        return;
      }
      case 'JoinExpr': {
        this.fromItem(body['larg'], scope);
        this.fromItem(body['rarg'], scope);
        this.filter(body['quals'], scope);
        for (const u of asList(body['usingClause'])) {
          const name = stringValue(u);
          if (name !== undefined) this.addFilters(this.column([name], scope));
        }
        const alias = asString(asNode(body['alias'])?.['aliasname']);
        if (alias !== undefined) {
          // `(a JOIN b) AS j`: j's columns are both sides' columns.
          const whole = none();
          for (const e of scope.entries) join(whole, e.whole);
          scope.entries.push({ alias, whole, opaque: whole });
        }
        return;
      }
      case 'RangeFunction': {
        const val = none();
        for (const f of asList(body['functions'])) {
          const items = asList(bodyOf(f, 'List')?.['items']);
          join(val, this.expr(items[0], scope));
        }
        const alias = asNode(body['alias']);
        const names = asList(alias?.['colnames']).map(stringValue);
        const firstCall = bodyOf(asList(bodyOf(asList(body['functions'])[0], 'List')?.['items'])[0], 'FuncCall');
        const firstName = asList(firstCall?.['funcname']);
        const aliasName =
          asString(alias?.['aliasname']) ?? stringValue(firstName[firstName.length - 1])?.toLowerCase() ?? '';
        scope.entries.push({
          alias: aliasName,
          whole: val,
          opaque: val,
          ...(names.length > 0 ? { columns: names.map((n) => ({ name: n ?? '?column?', val: copyVal(val) })) } : {}),
        });
        return;
      }
      default: {
        // TABLESAMPLE, XMLTABLE, JSON_TABLE, …: whatever they read, under their alias.
        const val = this.expr(body, scope);
        const sample = bodyOf(body['relation'], 'RangeVar');
        if (type === 'RangeTableSample' && sample !== undefined) {
          this.addRangeVar(sample, scope);
          return;
        }
        const alias = asString(asNode(body['alias'])?.['aliasname']) ?? '';
        scope.entries.push({ alias, whole: val, opaque: val });
      }
    }
  }

  private addRangeVar(rv: TreeNode, scope: Scope): RangeEntry {
    const relname = asString(rv['relname'])?.toLowerCase() ?? '';
    const schema = asString(rv['schemaname'])?.toLowerCase();
    const aliasNode = asNode(rv['alias']);
    const alias = asString(aliasNode?.['aliasname']) ?? relname;
    const rename = asList(aliasNode?.['colnames']).map(stringValue);
    const cte = schema === undefined ? scope.cte(relname) : undefined;
    if (cte !== undefined) {
      const entry = derivedEntry(
        cte.map((c, i) => ({ ...c, name: rename[i] ?? c.name })),
        alias,
      );
      scope.entries.push(entry);
      return entry;
    }
    const written = schema === undefined ? relname : `${schema}.${relname}`;
    const info = this.catalog.relation(written);
    let entry: RangeEntry;
    if (info === undefined) {
      entry = { alias, relation: written, whole: of(`${written}.*`), baseTable: true };
    } else {
      const columns: Column[] = info.columns.map((name, i) => ({
        name: rename[i] ?? name,
        val:
          info.sources === undefined
            ? of(`${info.qualified}.${name}`)
            : { sources: new Set(info.sources[i] ?? []), unresolved: info.unresolved?.[i] === true },
      }));
      const whole = none();
      for (const c of columns) join(whole, c.val);
      entry = { alias, relation: written, columns, whole, baseTable: info.sources === undefined };
    }
    scope.entries.push(entry);
    return entry;
  }

  private addDerived(cols: Column[], alias: TreeNode | undefined, scope: Scope): void {
    const rename = asList(alias?.['colnames']).map(stringValue);
    const named = cols.map((c, i) => ({ ...c, name: rename[i] ?? c.name }));
    scope.entries.push(derivedEntry(named, asString(alias?.['aliasname']) ?? ''));
  }

  // ---- names --------------------------------------------------------------------------------

  private entryByAlias(name: string, scope: Scope): RangeEntry | undefined {
    for (let s: Scope | null = scope; s !== null; s = s.parent) {
      for (let i = s.entries.length - 1; i >= 0; i--) if (s.entries[i]!.alias === name) return s.entries[i];
    }
    return undefined;
  }

  private entryByRelation(relation: string, scope: Scope): RangeEntry | undefined {
    for (let s: Scope | null = scope; s !== null; s = s.parent) {
      for (const e of s.entries) if (e.relation === relation || e.relation?.endsWith(`.${relation}`)) return e;
    }
    return undefined;
  }

  private columnOf(entry: RangeEntry, name: string): Val {
    if (entry.columns !== undefined) {
      const hit = entry.columns.find((c) => c.name === name);
      if (hit !== undefined) return copyVal(hit.val);
      return entry.opaque !== undefined ? copyVal(entry.opaque) : unresolvedVal();
    }
    if (entry.relation !== undefined) return of(`${entry.relation}.${name}`);
    return copyVal(entry.opaque ?? entry.whole);
  }

  /** A column reference's value (its fields, the last one not `*`). */
  private column(names: string[], scope: Scope): Val {
    let val: Val;
    if (names.length === 1) val = this.bareColumn(names[0]!, scope);
    else if (names.length === 2) {
      const entry = this.entryByAlias(names[0]!, scope);
      // Not a range name: `(composite).field` — the composite column carries the field.
      val = entry === undefined ? this.bareColumn(names[0]!, scope) : this.columnOf(entry, names[1]!);
    } else {
      const relation = names.slice(-3, -1).join('.');
      const entry = this.entryByRelation(relation, scope) ?? this.entryByAlias(names[names.length - 2]!, scope);
      val = entry === undefined ? unresolvedVal() : this.columnOf(entry, names[names.length - 1]!);
    }
    for (const s of val.sources) this.reads.add(s);
    return val;
  }

  /** An unqualified name: a column of some range in the nearest scope that has one, or a whole row. */
  private bareColumn(name: string, scope: Scope): Val {
    for (let s: Scope | null = scope; s !== null; s = s.parent) {
      const val = none();
      let found = false;
      for (const e of s.entries) {
        if (e.columns !== undefined) {
          const hit = e.columns.find((c) => c.name === name);
          if (hit !== undefined) {
            join(val, hit.val);
            found = true;
          } else if (e.opaque !== undefined) {
            join(val, e.opaque);
            found = true;
          }
        } else if (e.relation !== undefined) {
          // Columns unknown: it may be this table's (fail toward the larger set).
          val.sources.add(`${e.relation}.${name}`);
          found = true;
          if (e.alias === name) join(val, e.whole);
        } else if (e.opaque !== undefined) {
          join(val, e.opaque);
          found = true;
        }
      }
      if (found) return val;
      for (const e of s.entries) if (e.alias === name) return copyVal(e.whole);
    }
    return unresolvedVal();
  }

  private starOf(entry: RangeEntry): Column[] {
    if (entry.columns !== undefined) return entry.columns.map((c) => ({ name: c.name, val: copyVal(c.val) }));
    return [
      { name: entry.relation !== undefined ? `${entry.relation}.*` : '*', val: copyVal(entry.whole), star: true },
    ];
  }

  private star(fields: unknown[], scope: Scope): Column[] {
    const names = fields.slice(0, -1).map(stringValue);
    let entries: RangeEntry[];
    if (names.length === 0) entries = scope.entries;
    else {
      const entry =
        names.length === 1 ? this.entryByAlias(names[0]!, scope) : this.entryByRelation(names.join('.'), scope);
      entries = entry === undefined ? [] : [entry];
      if (entry === undefined) return [{ name: '*', val: unresolvedVal(), star: true }];
    }
    const out: Column[] = [];
    for (const e of entries) out.push(...this.starOf(e));
    for (const c of out) for (const s of c.val.sources) this.reads.add(s);
    return out;
  }

  // ---- expressions --------------------------------------------------------------------------

  private filter(node: unknown, scope: Scope): void {
    if (node === undefined || node === null) return;
    this.addFilters(this.expr(node, scope));
  }

  private addFilters(val: Val): void {
    for (const s of val.sources) this.filters.add(s);
  }

  /** Read for its side effects only (LIMIT, GROUP BY): subqueries' filters count. */
  private reads_(node: unknown, scope: Scope): void {
    if (node !== undefined) this.expr(node, scope);
  }

  private windowDef(def: TreeNode | undefined, scope: Scope): void {
    if (def === undefined) return;
    for (const p of asList(def['partitionClause'])) this.filter(p, scope);
    for (const o of asList(def['orderClause'])) this.filter(bodyOf(o, 'SortBy')?.['node'], scope);
  }

  /** What `node` carries; tests inside it add their columns to the filters. */
  expr(node: unknown, scope: Scope): Val {
    if (Array.isArray(node)) {
      const val = none();
      for (const item of node) join(val, this.expr(item, scope));
      return val;
    }
    const wrapped = unwrap(node);
    if (wrapped === undefined) {
      const body = asNode(node);
      return body === undefined ? none() : this.children(body, scope);
    }
    if (++this.depth > MAX_DEPTH) {
      this.depth--;
      return unresolvedVal();
    }
    try {
      return this.exprNode(wrapped[0], wrapped[1], scope);
    } finally {
      this.depth--;
    }
  }

  private exprNode(type: string, body: TreeNode, scope: Scope): Val {
    switch (type) {
      case 'A_Const':
      case 'ParamRef':
      case 'SQLValueFunction':
      case 'SetToDefault':
        return none();
      case 'ColumnRef': {
        const fields = asList(body['fields']);
        if (bodyOf(fields[fields.length - 1], 'A_Star') !== undefined) {
          const val = none();
          for (const c of this.star(fields, scope)) join(val, c.val);
          return val;
        }
        const names = fields.map(stringValue);
        if (names.some((n) => n === undefined)) return unresolvedVal();
        return this.column(names as string[], scope);
      }
      case 'FuncCall':
        return this.funcCall(body, scope);
      case 'A_Expr':
        return this.aExpr(body, scope);
      case 'BoolExpr':
      case 'BooleanTest':
        this.addFilters(this.children(body, scope));
        return none();
      case 'NullTest':
        this.nullness(body['arg'], scope);
        return none();
      case 'CaseExpr': {
        const val = none();
        if (body['arg'] !== undefined) this.filter(body['arg'], scope);
        for (const w of asList(body['args'])) {
          const when = bodyOf(w, 'CaseWhen');
          this.filter(when?.['expr'], scope);
          join(val, this.expr(when?.['result'], scope));
        }
        return join(val, this.expr(body['defresult'], scope));
      }
      case 'SubLink':
        return this.subLink(body, scope);
      case 'SelectStmt': {
        const val = none();
        for (const c of this.select(body, scope)) join(val, c.val);
        return val;
      }
      case 'RangeVar':
        return this.children(body, scope);
      default:
        return this.children(body, scope);
    }
  }

  private children(body: TreeNode, scope: Scope): Val {
    const val = none();
    for (const key in body) {
      const v = body[key];
      if (typeof v === 'object' && v !== null) join(val, this.expr(v, scope));
    }
    return val;
  }

  /** `x IS NULL`, `count(x)`: nothing carried; a computed x is a test on its columns. */
  private nullness(arg: unknown, scope: Scope): void {
    const val = this.expr(arg, scope);
    if (bodyOf(arg, 'ColumnRef') === undefined) this.addFilters(val);
  }

  private aExpr(body: TreeNode, scope: Scope): Val {
    const kind = asString(body['kind']) ?? 'AEXPR_OP';
    const op = stringValue(asList(body['name'])[asList(body['name']).length - 1]);
    const both = join(this.expr(body['lexpr'], scope), this.expr(body['rexpr'], scope));
    if (TEST_EXPR_KINDS.has(kind) || (kind === 'AEXPR_OP' && op !== undefined && COMPARISON_OPS.has(op))) {
      this.addFilters(both);
      return none();
    }
    // NULLIF(a, b) carries a (and compares it with b); arithmetic, `||` and the rest carry both.
    return both;
  }

  private funcCall(body: TreeNode, scope: Scope): Val {
    const parts = asList(body['funcname']);
    const name = stringValue(parts[parts.length - 1])?.toLowerCase() ?? '';
    const schema = parts.length > 1 ? stringValue(parts[parts.length - 2])?.toLowerCase() : undefined;
    const args = asList(body['args']);
    for (const o of asList(body['agg_order'])) this.filter(bodyOf(o, 'SortBy')?.['node'], scope);
    this.filter(body['agg_filter'], scope);
    this.windowDef(asNode(bodyOf(body['over'], 'WindowDef') ?? body['over']), scope);
    if (NULLNESS_FUNCTIONS.has(name) && (schema === undefined || schema === 'pg_catalog')) {
      for (const a of args) this.nullness(a, scope);
      return none();
    }
    const val = none();
    for (const a of args) join(val, this.expr(a, scope));
    const userDefined = (schema !== undefined && schema !== 'pg_catalog') || this.catalog.isUserFunction(name);
    if (userDefined || nestedSqlArgs(schema, name, args) !== undefined) {
      // Reads what lineage cannot see (its body, SQL in a string): unresolved.
      this.opaque = true;
      val.unresolved = true;
    }
    return val;
  }

  private subLink(body: TreeNode, scope: Scope): Val {
    const type = asString(body['subLinkType']);
    const sub = bodyOf(body['subselect'], 'SelectStmt');
    const val = none();
    if (sub !== undefined) for (const c of this.select(sub, scope)) join(val, c.val);
    if (type === 'EXPR_SUBLINK' || type === 'ARRAY_SUBLINK' || type === 'MULTIEXPR_SUBLINK') return val;
    // EXISTS, IN, ANY, ALL: a test of the subquery's values (and the left side).
    this.addFilters(val);
    this.addFilters(this.expr(body['testexpr'], scope));
    return none();
  }
}

/** A RangeVar's name as statements write it (lower-case, schema kept). */
function relationName(rv: TreeNode): string {
  const relname = asString(rv['relname'])?.toLowerCase() ?? '?';
  const schema = asString(rv['schemaname'])?.toLowerCase();
  return schema === undefined ? relname : `${schema}.${relname}`;
}

function derivedEntry(cols: Column[], alias: string): RangeEntry {
  const whole = none();
  for (const c of cols) join(whole, c.val);
  return { alias, columns: cols, whole };
}

function copyVal(v: Val): Val {
  return { sources: new Set(v.sources), unresolved: v.unresolved };
}

function unionColumns(left: Column[], right: Column[]): Column[] {
  const n = Math.max(left.length, right.length);
  const out: Column[] = [];
  for (let i = 0; i < n; i++) {
    const l = left[i];
    const r = right[i];
    const val = none();
    if (l !== undefined) join(val, l.val);
    if (r !== undefined) join(val, r.val);
    // Arms of different widths (a `*` of unknown width): positions no longer line up.
    if (left.some((c) => c.star) || right.some((c) => c.star)) val.unresolved = true;
    out.push({ name: l?.name ?? r?.name ?? '?column?', val, ...(l?.star || r?.star ? { star: true } : {}) });
  }
  return out;
}

function sameColumns(a: Column[], b: Column[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!.val;
    const y = b[i]!.val;
    if (x.unresolved !== y.unresolved || x.sources.size !== y.sources.size) return false;
    for (const s of x.sources) if (!y.sources.has(s)) return false;
  }
  return true;
}

/** The name PostgreSQL gives an unnamed output column (close to FigureColname). */
function nameOf(val: unknown): string {
  const wrapped = unwrap(val);
  if (wrapped === undefined) return '?column?';
  const [type, body] = wrapped;
  switch (type) {
    case 'ColumnRef': {
      const fields = asList(body['fields']);
      return stringValue(fields[fields.length - 1]) ?? '?column?';
    }
    case 'FuncCall': {
      const parts = asList(body['funcname']);
      return stringValue(parts[parts.length - 1]) ?? '?column?';
    }
    case 'TypeCast': {
      const inner = nameOf(body['arg']);
      if (inner !== '?column?') return inner;
      const names = asList(asNode(body['typeName'])?.['names']);
      return stringValue(names[names.length - 1]) ?? '?column?';
    }
    case 'CaseExpr':
      return 'case';
    case 'CoalesceExpr':
      return 'coalesce';
    case 'RowExpr':
      return 'row';
    case 'A_ArrayExpr':
      return 'array';
    case 'SubLink': {
      const t = asString(body['subLinkType']);
      if (t === 'EXISTS_SUBLINK') return 'exists';
      if (t === 'ARRAY_SUBLINK') return 'array';
      const sub = bodyOf(body['subselect'], 'SelectStmt');
      const first = bodyOf(asList(sub?.['targetList'])[0], 'ResTarget');
      return asString(first?.['name']) ?? nameOf(first?.['val']);
    }
    default:
      return '?column?';
  }
}

function toOutput(c: Column): OutputLineage {
  return Object.freeze({
    name: c.name,
    sources: Object.freeze([...c.val.sources].sort()),
    unresolved: c.val.unresolved,
    ...(c.star ? { star: true } : {}),
    ...(c.jsonRow ? { jsonRow: true } : {}),
  });
}

/** Lineage of each statement of one parse (the `stmt` nodes), in order. */
export function lineageOfStatements(
  statements: readonly unknown[],
  catalog: LineageCatalog = EMPTY_CATALOG,
): StatementLineage[] {
  return statements.map((stmt) => {
    try {
      return Object.freeze(new LineageWalker(catalog).statement(stmt));
    } catch {
      return UNTRACED;
    }
  });
}

/** A statement lineage cannot follow at all. */
export const UNTRACED: StatementLineage = Object.freeze({
  outputs: null,
  reads: [],
  filters: [],
  opaque: true,
  literalSensitive: false,
  writes: [],
});
