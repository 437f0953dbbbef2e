// The CEL context rules see: the declared fields (for the load-time field check) and the empty
// facts that stand in for another kind's facts, so `op.kind == 'sql' && op.sql.writes` is simply
// false on an HTTP operation instead of an evaluation error.
import type { CommandFacts, FileFacts, HttpFacts, K8sFacts, SqlFacts } from '../core/types.js';

/** A field's shape. `open` = a map or JSON value whose keys are data, not schema (claims, headers, json). */
export type FieldShape = 'string' | 'bool' | 'list' | 'timestamp' | 'open' | { readonly [field: string]: FieldShape };

const sql: { [K in keyof SqlFacts]: FieldShape } = {
  kinds: 'list',
  tables: 'list',
  writtenTables: 'list',
  functions: 'list',
  writes: 'bool',
  allWritesFiltered: 'bool',
  copyProgram: 'bool',
  serverFile: 'bool',
  settings: 'list',
  multiStatement: 'bool',
  parsed: 'bool',
  fingerprint: 'string',
  dynamicSql: 'bool',
  maskedOutputs: 'list',
  filterColumns: 'list',
};

/** Every variable and field a rule may use (DESIGN.md §1). */
export const CONTEXT_FIELDS: { readonly [variable: string]: FieldShape } = {
  identity: { sub: 'string', groups: 'list', issuer: 'string', claims: 'open' },
  connection: { name: 'string', type: 'string' },
  op: {
    id: 'string',
    kind: 'string',
    text: 'string',
    sql,
    command: { text: 'string', argv: 'list', programs: 'list', parsed: 'bool' },
    http: { method: 'string', path: 'string', query: 'open', headers: 'open', json: 'open', bodyBytes: 'open' },
    k8s: {
      verb: 'string',
      resource: 'string',
      namespace: 'string',
      name: 'string',
      subresource: 'string',
      command: 'list',
    },
    session: { id: 'string', event: 'string', detail: 'string' },
    file: { action: 'string', path: 'string', target: 'string' },
  },
  now: 'timestamp',
};

/**
 * SQL facts of an operation that is not SQL: no statements. `parsed` and `allWritesFiltered` are
 * true because they are vacuously true of zero statements (DESIGN.md: "true when there are no such
 * statements"), so `!op.sql.parsed` alone never fires on an HTTP request.
 */
export const NO_SQL: SqlFacts = Object.freeze({
  kinds: [],
  tables: [],
  writtenTables: [],
  functions: [],
  writes: false,
  allWritesFiltered: true,
  copyProgram: false,
  serverFile: false,
  settings: [],
  multiStatement: false,
  parsed: true,
  fingerprint: '',
  dynamicSql: false,
  maskedOutputs: [],
  filterColumns: [],
});

/** An SQL operation that arrived without facts is treated as unparsed: fail closed. */
export const UNPARSED_SQL: SqlFacts = Object.freeze({
  ...NO_SQL,
  kinds: ['unparsed'] as SqlFacts['kinds'],
  parsed: false,
});

export const NO_COMMAND: CommandFacts = Object.freeze({ text: '', argv: [], programs: [], parsed: true });
export const NO_FILE: FileFacts = Object.freeze({ action: '' as FileFacts['action'], path: '', target: '' });
export const NO_HTTP: HttpFacts = Object.freeze({
  method: '',
  path: '',
  query: {},
  headers: {},
  json: null,
  bodyBytes: 0,
});
export const NO_K8S: K8sFacts = Object.freeze({
  verb: '',
  resource: '',
  namespace: '',
  name: '',
  subresource: '',
  command: [],
});
