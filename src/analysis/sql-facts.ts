// Facts of a parsed SQL text: one generic walk over libpg-query's JSON tree. Every node is
// visited; statement nodes, RangeVar (tables), FuncCall (functions) and WITH scopes get their
// own handling, everything else is descended into. Nothing here reads the SQL text itself.
import type { SqlKind } from '../core/types.js';
import { type FilterContext, isBoundedSelect, isFilteredMerge, isFilteredWrite } from './sql-filter.js';
import { kindOfType } from './sql-kinds.js';
import { type NestedSqlArgs, NestedSqlError, nestedSqlArgs, parseNestedSql, stringLiteral } from './sql-nested.js';
import { asList, asNode, asString, bodyOf, stringValue, type TreeNode, unwrap } from './sql-tree.js';

/** What one parse yields; literal-independent unless `literalSensitive`. */
export interface TreeFacts {
  kinds: SqlKind[];
  tables: string[];
  writtenTables: string[];
  functions: string[];
  settings: string[];
  writes: boolean;
  allWritesFiltered: boolean;
  copyProgram: boolean;
  serverFile: boolean;
  /** `EXECUTE name` statements; the prepared statement's kinds go into `kinds` at index `at`. */
  executes: { name: string; at: number }[];
  /** `PREPARE name AS s` statements and the kinds of `s`, for the session's prepared map. */
  prepares: { name: string; kinds: SqlKind[] }[];
  /** Some fact depends on a literal's value (e.g. `set_config('role', …)`), so texts that differ
   * only in literals may not share these facts. */
  literalSensitive: boolean;
  /** A function runs SQL (or reads tables) named by a non-literal argument. */
  dynamicSql: boolean;
}

/** Options of one analysis. */
export interface TreeOptions {
  /** `limits.boundedWriteRows`. */
  maxRows: number;
}

/** How deep SQL inside string arguments is followed (`ts_stat($$… query_to_xml('…') …$$)`). */
const MAX_NESTED_DEPTH = 4;

const DROP_TABLE_LIKE = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
  'OBJECT_INDEX',
]);

const OFF_WORDS = new Set(['false', 'off', 'no', '0']);

class TreeWalker {
  readonly kinds: SqlKind[] = [];
  readonly tables = new Set<string>();
  readonly written = new Set<string>();
  readonly functions = new Set<string>();
  readonly settings = new Set<string>();
  readonly executes: { name: string; at: number }[] = [];
  readonly prepares: { name: string; kinds: SqlKind[] }[] = [];
  writes = false;
  allWritesFiltered = true;
  copyProgram = false;
  serverFile = false;
  literalSensitive = false;
  dynamicSql = false;
  readonly filter: FilterContext;
  /** Depth of SQL parsed out of string arguments. */
  nested = 0;
  /** Index in `kinds` where the current top-level statement's kinds begin (dedupe per statement). */
  statementStart = 0;
  /** > 0 inside text that is planned or stored but not run now (plain EXPLAIN, rule actions,
   * SQL function bodies): tables and functions still count, kinds and writes do not. */
  notRun = 0;
  /** CTE names visible at this point, innermost last. */
  readonly cteScopes: string[][] = [];

  constructor(options: TreeOptions) {
    this.filter = { maxRows: options.maxRows, literalSensitive: false };
  }

  statement(stmt: unknown): void {
    this.statementStart = this.kinds.length;
    this.visitStatementNode(stmt, true);
  }

  private addKind(kind: SqlKind): void {
    if (this.notRun > 0) return;
    if (this.kinds.indexOf(kind, this.statementStart) === -1) this.kinds.push(kind);
  }

  private tableName(rangeVar: TreeNode): string | undefined {
    const relname = asString(rangeVar['relname']);
    if (relname === undefined) return undefined;
    const schema = asString(rangeVar['schemaname']);
    const catalog = asString(rangeVar['catalogname']);
    let name = relname;
    if (schema !== undefined) name = schema + '.' + name;
    if (catalog !== undefined) name = catalog + '.' + name;
    return name.toLowerCase();
  }

  /** A relation read or named somewhere; an unqualified name that is a visible CTE is not a table. */
  private readTable(rangeVar: TreeNode): void {
    const relname = asString(rangeVar['relname']);
    if (relname !== undefined && rangeVar['schemaname'] === undefined && rangeVar['catalogname'] === undefined) {
      for (const scope of this.cteScopes) if (scope.includes(relname)) return;
    }
    const name = this.tableName(rangeVar);
    if (name !== undefined) this.tables.add(name);
  }

  /** The target of a write. Never a CTE: PostgreSQL does not resolve write targets against WITH. */
  private writeTable(rangeVar: unknown): void {
    const node = asNode(rangeVar);
    if (node === undefined) return;
    const name = this.tableName(node);
    if (name === undefined) return;
    this.tables.add(name);
    if (this.notRun > 0) return;
    this.written.add(name);
    this.writes = true;
  }

  private unfiltered(): void {
    if (this.notRun === 0) this.allWritesFiltered = false;
  }

  // ---- generic descent -------------------------------------------------------------------

  private visit(value: unknown): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item);
      return;
    }
    const node = asNode(value);
    if (node === undefined) return;
    const wrapped = unwrap(node);
    if (wrapped !== undefined) {
      this.visitNode(wrapped[0], wrapped[1]);
    } else if (typeof node['relname'] === 'string') {
      this.readTable(node); // a bare RangeVar (INTO targets, VACUUM relations, …)
    } else {
      this.descend(node);
    }
  }

  private descend(body: TreeNode, ...skip: string[]): void {
    for (const key in body) {
      if (skip.length > 0 && skip.includes(key)) continue;
      const value = body[key];
      if (typeof value !== 'object' || value === null) continue;
      if (key === 'funccall')
        this.funcCall(value as TreeNode); // CALL: a bare FuncCall
      else this.visit(value);
    }
  }

  private visitNode(type: string, body: TreeNode): void {
    if (type === 'RangeVar') this.readTable(body);
    else if (type === 'FuncCall') this.funcCall(body);
    else if (type.endsWith('Stmt')) this.visitStatement(type, body, false);
    else this.descend(body);
  }

  /** Runs `inner` inside the scope of the statement's WITH clause, after visiting the CTEs. */
  private withScope(body: TreeNode, inner: () => void): void {
    const withClause = asNode(body['withClause']);
    if (withClause === undefined) {
      inner();
      return;
    }
    const ctes = asList(withClause['ctes']).map((c) => bodyOf(c, 'CommonTableExpr') ?? {});
    const names = ctes.map((c) => asString(c['ctename']) ?? '');
    if (withClause['recursive'] === true) {
      this.cteScopes.push(names);
      for (const cte of ctes) this.descend(cte);
    } else {
      // A non-recursive CTE sees only the CTEs before it; a same-named table otherwise.
      for (let i = 0; i < ctes.length; i++) {
        this.cteScopes.push(names.slice(0, i));
        this.descend(ctes[i]!);
        this.cteScopes.pop();
      }
      this.cteScopes.push(names);
    }
    inner();
    this.cteScopes.pop();
  }

  /** The fields of a statement, inside its WITH scope. */
  private descendWithScope(body: TreeNode, ...skip: string[]): void {
    this.withScope(body, () => this.descend(body, 'withClause', ...skip));
  }

  private funcCall(body: TreeNode): void {
    const parts = asList(body['funcname']);
    const name = stringValue(parts[parts.length - 1])?.toLowerCase();
    if (name !== undefined) {
      this.functions.add(name);
      if (name === 'set_config' && this.notRun === 0) this.setConfig(asList(body['args']));
      const schema = parts.length > 1 ? stringValue(parts[parts.length - 2])?.toLowerCase() : undefined;
      const nested = nestedSqlArgs(schema, name, asList(body['args']));
      if (nested !== undefined) this.nestedSql(nested);
    }
    this.descend(body);
  }

  /** Arguments that are SQL (or table names) run by the function: literals are analyzed as
   * statements of their own, anything else makes the SQL dynamic. */
  private nestedSql(nested: NestedSqlArgs): void {
    if (nested.dynamic) this.dynamicSql = true;
    for (const { arg, table } of nested.args) {
      const literal = stringLiteral(arg);
      if (literal.constant) this.literalSensitive = true; // `ts_stat('…')` and `ts_stat(1)` normalize alike
      if (literal.value === undefined) {
        this.dynamicSql = true;
        continue;
      }
      if (table) {
        const name = parseRelationName(literal.value);
        if (name === undefined) this.dynamicSql = true;
        else this.tables.add(name);
        continue;
      }
      if (this.nested >= MAX_NESTED_DEPTH) throw new NestedSqlError('SQL nested in strings too deeply');
      const statements = parseNestedSql(literal.value);
      this.nested++;
      try {
        for (const statement of statements) this.visitStatementNode(statement, true);
      } finally {
        this.nested--;
      }
    }
  }

  /** `set_config(setting_name, new_value, is_local)`: the setting, or `*` when not a literal. */
  private setConfig(args: unknown[]): void {
    // Positional first argument, unless arguments are named (`setting_name => …`).
    let nameArg: unknown = bodyOf(args[0], 'NamedArgExpr') === undefined ? args[0] : undefined;
    for (const arg of args) {
      const named = bodyOf(arg, 'NamedArgExpr');
      if (named !== undefined && asString(named['name'])?.toLowerCase() === 'setting_name') nameArg = named['arg'];
    }
    const constant = bodyOf(nameArg, 'A_Const');
    if (constant !== undefined) this.literalSensitive = true; // `set_config(1, …)` normalizes like `('role', …)`
    const literal = asString(asNode(constant?.['sval'])?.['sval']);
    if (literal === undefined) {
      this.settings.add('*');
    } else {
      this.settings.add(literal.toLowerCase());
      this.literalSensitive = true;
    }
  }

  // ---- statements ------------------------------------------------------------------------

  /** A wrapped statement node. `asStatement`: a SELECT here is a statement of its own (top level,
   * COPY (…), EXPLAIN ANALYZE, PREPARE, DECLARE), not a subquery. */
  private visitStatementNode(value: unknown, asStatement: boolean): void {
    const wrapped = unwrap(value);
    if (wrapped === undefined) {
      this.visit(value);
      return;
    }
    const [type, body] = wrapped;
    if (type.endsWith('Stmt')) this.visitStatement(type, body, asStatement);
    else this.visitNode(type, body);
  }

  private visitStatement(type: string, body: TreeNode, asStatement: boolean): void {
    switch (type) {
      case 'SelectStmt':
        if (asStatement) this.addKind(selectHasInto(body) ? 'create' : 'select');
        this.select(body);
        return;
      case 'InsertStmt':
        this.addKind('insert');
        // ON CONFLICT DO UPDATE changes existing rows: an update too.
        if (asString(asNode(body['onConflictClause'])?.['action']) === 'ONCONFLICT_UPDATE') this.addKind('update');
        this.writeTable(body['relation']);
        this.settingsTable(body['relation'], undefined);
        if (!isBoundedSelect(bodyOf(body['selectStmt'], 'SelectStmt'), this.filter)) this.unfiltered();
        this.descendWithScope(body, 'relation');
        return;
      case 'UpdateStmt':
      case 'DeleteStmt': {
        const update = type === 'UpdateStmt';
        this.addKind(update ? 'update' : 'delete');
        this.writeTable(body['relation']);
        this.settingsTable(body['relation'], update ? body['whereClause'] : undefined);
        const joined = asList(body[update ? 'fromClause' : 'usingClause']);
        if (!isFilteredWrite(body['relation'], joined, body['whereClause'], this.filter)) this.unfiltered();
        this.descendWithScope(body, 'relation');
        return;
      }
      case 'MergeStmt':
        this.addKind('merge');
        this.writeTable(body['relation']);
        this.settingsTable(body['relation'], undefined);
        if (!isFilteredMerge(body, this.filter)) this.unfiltered();
        this.descendWithScope(body, 'relation');
        return;
      case 'CopyStmt':
        this.copy(body);
        return;
      case 'ExplainStmt':
        this.explain(body);
        return;
      case 'PrepareStmt': {
        this.addKind('prepare');
        const from = this.kinds.length;
        this.visitStatementNode(body['query'], true);
        const name = asString(body['name']);
        if (name !== undefined && this.notRun === 0) this.prepares.push({ name, kinds: this.kinds.slice(from) });
        this.descend(body, 'query');
        return;
      }
      case 'DeclareCursorStmt':
        this.addKind('declare');
        this.visitStatementNode(body['query'], true);
        this.descend(body, 'query');
        return;
      case 'ExecuteStmt': {
        this.addKind('execute');
        const name = asString(body['name']);
        if (name !== undefined && this.notRun === 0) this.executes.push({ name, at: this.kinds.length });
        this.descend(body);
        return;
      }
      case 'CreateTableAsStmt':
        this.addKind('create');
        this.writeTable(asNode(body['into'])?.['rel']);
        this.descend(body);
        return;
      case 'TruncateStmt':
        // TRUNCATE empties tables: a write that no WHERE bounds.
        this.addKind('truncate');
        for (const relation of asList(body['relations'])) this.writeTable(bodyOf(relation, 'RangeVar'));
        this.unfiltered();
        return;
      case 'VariableSetStmt':
        this.variableSet(body);
        return;
      case 'AlterSystemStmt':
        this.addKind('alter_system');
        if (this.notRun === 0) this.addSettings(settingsOf(asNode(body['setstmt'])));
        return;
      case 'DiscardStmt':
        // DISCARD ALL includes RESET ALL and SET SESSION AUTHORIZATION DEFAULT.
        this.addKind('other');
        if (asString(body['target']) === 'DISCARD_ALL' && this.notRun === 0) this.addSettings(ALL_SETTINGS);
        return;
      case 'AlterRoleSetStmt':
      case 'AlterDatabaseSetStmt':
        // Takes effect in later sessions (the gateway's own upstream connections included).
        this.addKind('alter');
        this.addSettings(settingsOf(asNode(body['setstmt'])));
        this.descend(body, 'setstmt');
        return;
      case 'AlterFunctionStmt':
        this.addKind('alter');
        this.functionSetClauses(body['actions']);
        this.descend(body, 'actions');
        return;
      case 'GrantStmt':
      case 'GrantRoleStmt':
        this.addKind(body['is_grant'] === true ? 'grant' : 'revoke');
        this.descend(body);
        return;
      case 'AlterDefaultPrivilegesStmt':
        this.addKind('alter');
        this.addKind(asNode(body['action'])?.['is_grant'] === true ? 'grant' : 'revoke');
        this.descend(body);
        return;
      case 'VacuumStmt':
        this.addKind(body['is_vacuumcmd'] === true ? 'vacuum' : 'analyze');
        this.descend(body);
        return;
      case 'DropStmt':
        this.addKind('drop');
        if (DROP_TABLE_LIKE.has(asString(body['removeType']) ?? '')) {
          for (const object of asList(body['objects'])) {
            const parts = asList(bodyOf(object, 'List')?.['items']).map(stringValue);
            if (parts.length > 0 && parts.every((p) => p !== undefined)) this.tables.add(parts.join('.').toLowerCase());
          }
        }
        return;
      case 'CreateFunctionStmt':
        this.functionSetClauses(body['options']);
        this.addKind('create');
        this.notRun++;
        this.descend(body);
        this.notRun--;
        return;
      case 'DoStmt':
        // The body is PL/pgSQL (or another language) that can run any SQL, built at run time.
        this.addKind('do');
        if (this.notRun === 0) this.dynamicSql = true;
        this.descend(body);
        return;
      case 'RuleStmt':
        // Stored for later, not run now: what they name counts, what they would do does not.
        this.addKind('create');
        this.notRun++;
        this.descend(body);
        this.notRun--;
        return;
      default:
        this.addKind(kindOfType(type));
        this.descendWithScope(body);
    }
  }

  private select(body: TreeNode): void {
    const into = asNode(body['intoClause']);
    if (into !== undefined) this.writeTable(into['rel']);
    this.withScope(body, () => {
      this.descend(body, 'withClause', 'larg', 'rarg', 'intoClause');
      // Set operations (UNION …) keep their arms as bare SELECTs.
      for (const arm of ['larg', 'rarg']) {
        const armBody = asNode(body[arm]);
        if (armBody !== undefined) this.select(armBody);
      }
    });
  }

  private copy(body: TreeNode): void {
    this.addKind('copy');
    const isFrom = body['is_from'] === true;
    if (isFrom) this.writeTable(body['relation']);
    else if (body['relation'] !== undefined) this.readTable(asNode(body['relation']) ?? {});
    if (this.notRun === 0) {
      if (body['is_program'] === true) this.copyProgram = true;
      else if (body['filename'] !== undefined) this.serverFile = true;
    }
    if (body['query'] !== undefined) this.visitStatementNode(body['query'], true);
    this.descend(body, 'relation', 'query');
  }

  private explain(body: TreeNode): void {
    this.addKind('explain');
    let analyze = false;
    for (const option of asList(body['options'])) {
      const def = bodyOf(option, 'DefElem');
      if (asString(def?.['defname']) !== 'analyze') continue;
      analyze = def?.['arg'] === undefined || isOnValue(def['arg']);
      if (def?.['arg'] !== undefined) this.literalSensitive = true; // `ANALYZE 0` vs `ANALYZE 1`
    }
    // Plain EXPLAIN plans the statement without running it: only `explain`.
    if (!analyze) this.notRun++;
    this.visitStatementNode(body['query'], true);
    if (!analyze) this.notRun--;
  }

  private variableSet(body: TreeNode): void {
    const kind = asString(body['kind']);
    const name = asString(body['name'])?.toLowerCase();
    const reset = kind === 'VAR_RESET' || kind === 'VAR_RESET_ALL';
    if (name === 'role' || name === 'session_authorization') this.addKind('set_role');
    else this.addKind(reset ? 'reset' : 'set');
    if (this.notRun === 0) this.addSettings(settingsOf(body));
    this.descend(body);
  }

  private addSettings(names: readonly string[]): void {
    for (const name of names) this.settings.add(name);
  }

  /** `SET x = …` clauses of CREATE / ALTER FUNCTION and PROCEDURE (applied while it runs). */
  private functionSetClauses(options: unknown): void {
    for (const option of asList(options)) {
      const def = bodyOf(option, 'DefElem');
      if (asString(def?.['defname']) !== 'set') continue;
      this.addSettings(settingsOf(bodyOf(def?.['arg'], 'VariableSetStmt')));
    }
  }

  /** A write to pg_settings is `set_config`: `UPDATE pg_settings SET setting = … WHERE name = 'x'`
   * changes x; any other shape may change any setting. */
  private settingsTable(relation: unknown, where: unknown): void {
    const node = asNode(relation);
    if (node === undefined || this.notRun > 0) return;
    const schema = asString(node['schemaname'])?.toLowerCase();
    if (asString(node['relname'])?.toLowerCase() !== 'pg_settings' || (schema !== undefined && schema !== 'pg_catalog'))
      return;
    this.literalSensitive = true;
    const names = settingNamesOf(where);
    this.addSettings(names ?? ['*']);
  }

  result(): TreeFacts {
    return {
      kinds: this.kinds,
      tables: [...this.tables],
      writtenTables: [...this.written],
      functions: [...this.functions],
      settings: [...this.settings],
      writes: this.writes,
      allWritesFiltered: this.allWritesFiltered,
      copyProgram: this.copyProgram,
      serverFile: this.serverFile,
      executes: this.executes,
      prepares: this.prepares,
      literalSensitive: this.literalSensitive || this.filter.literalSensitive,
      dynamicSql: this.dynamicSql,
    };
  }
}

function selectHasInto(body: TreeNode): boolean {
  if (body['intoClause'] !== undefined) return true;
  const larg = asNode(body['larg']);
  const rarg = asNode(body['rarg']);
  return (larg !== undefined && selectHasInto(larg)) || (rarg !== undefined && selectHasInto(rarg));
}

/** An option value that turns it on (`ANALYZE`, `ANALYZE true`, `ANALYZE 1`, `ANALYZE on`). */
function isOnValue(arg: unknown): boolean {
  const text = stringValue(arg);
  if (text !== undefined) return !OFF_WORDS.has(text.toLowerCase());
  const integer = bodyOf(arg, 'Integer');
  if (integer !== undefined) return (integer['ival'] ?? 0) !== 0;
  const boolean = bodyOf(arg, 'Boolean');
  if (boolean !== undefined) return boolean['boolval'] === true;
  return true; // unknown shape: assume it runs
}

/** What RESET ALL / DISCARD ALL change: every setting. */
const ALL_SETTINGS = ['all', '*'];

/** Settings a VariableSetStmt changes, lower-case: its name, `all` + `*` for RESET ALL, the
 * transaction settings of SET SESSION CHARACTERISTICS, `*` when unnamed. */
function settingsOf(stmt: TreeNode | undefined): string[] {
  if (stmt === undefined) return [];
  const kind = asString(stmt['kind']);
  if (kind === 'VAR_RESET_ALL') return ALL_SETTINGS;
  if (kind === 'VAR_SET_MULTI') {
    const names = asList(stmt['args']).map((a) => asString(bodyOf(a, 'DefElem')?.['defname'])?.toLowerCase());
    return names.length > 0 && names.every((n) => n !== undefined) ? (names as string[]) : ['*'];
  }
  const name = asString(stmt['name']);
  return [name === undefined ? '*' : name.toLowerCase()];
}

/** `name = 'x'` or `name IN ('x', 'y')` among the AND-ed terms of a pg_settings WHERE. */
function settingNamesOf(where: unknown): string[] | undefined {
  const terms: unknown[] = [];
  const collect = (c: unknown): void => {
    const and = bodyOf(c, 'BoolExpr');
    if (and !== undefined && asString(and['boolop']) === 'AND_EXPR') for (const a of asList(and['args'])) collect(a);
    else if (c !== undefined) terms.push(c);
  };
  collect(where);
  for (const term of terms) {
    const expr = bodyOf(term, 'A_Expr');
    if (expr === undefined) continue;
    const op = stringValue(asList(expr['name'])[0]);
    const kind = asString(expr['kind']);
    const isName = (side: unknown): boolean => {
      const fields = asList(bodyOf(side, 'ColumnRef')?.['fields']);
      return fields.length > 0 && stringValue(fields[fields.length - 1]) === 'name';
    };
    const literal = (side: unknown): string | undefined => stringLiteral(side).value?.toLowerCase();
    if (kind === 'AEXPR_OP' && op === '=') {
      const value = isName(expr['lexpr'])
        ? literal(expr['rexpr'])
        : isName(expr['rexpr'])
          ? literal(expr['lexpr'])
          : undefined;
      if (value !== undefined) return [value];
    } else if (kind === 'AEXPR_IN' && op === '=' && isName(expr['lexpr'])) {
      const list = bodyOf(expr['rexpr'], 'List')?.['items'] ?? expr['rexpr'];
      const values = asList(list).map(literal);
      if (values.length > 0 && values.every((v) => v !== undefined)) return values as string[];
    }
  }
  return undefined;
}

/** A relation name given as text (`'public.customers'`, `'"Orders"'`), lower-case; undefined
 * when it is not a plain (optionally qualified) name. */
function parseRelationName(text: string): string | undefined {
  const parts: string[] = [];
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(text[i]!)) i++;
  };
  for (;;) {
    skipSpace();
    if (text[i] === '"') {
      let part = '';
      i++;
      for (;;) {
        if (i >= n) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i++];
      }
      if (part === '') return undefined;
      parts.push(part);
    } else {
      const match = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/.exec(text.slice(i));
      if (match === null) return undefined;
      parts.push(match[0]);
      i += match[0].length;
    }
    skipSpace();
    if (i >= n) break;
    if (text[i] !== '.') return undefined;
    i++;
  }
  return parts.length > 0 && parts.length <= 3 ? parts.join('.').toLowerCase() : undefined;
}

/** Facts of the statements of one parse, in order. */
export function factsOfStatements(statements: readonly unknown[], options: TreeOptions): TreeFacts {
  const walker = new TreeWalker(options);
  for (const statement of statements) walker.statement(statement);
  return walker.result();
}
