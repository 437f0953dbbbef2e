// libpg-query (PostgreSQL's own parser compiled to WebAssembly). The module is loaded once;
// after that parsing is synchronous, so analysis never yields inside the operation pipeline.
import pgQuery from 'libpg-query';

let loading: Promise<void> | undefined;
let ready = false;

/** Loads the parser module. Idempotent: every caller shares the one load. */
export function initAnalysis(): Promise<void> {
  loading ??= pgQuery.loadModule().then(
    () => {
      ready = true;
    },
    (error: unknown) => {
      loading = undefined; // let a later call retry
      throw error;
    },
  );
  return loading;
}

function assertReady(): void {
  if (!ready) throw new TypeError('SQL analysis is not initialized: await initAnalysis() first');
}

/** Parses `sql` into libpg-query's JSON tree; throws on a syntax error. */
export function parseTree(sql: string): { stmts?: RawStatement[] } {
  assertReady();
  return pgQuery.parseSync(sql) as { stmts?: RawStatement[] };
}

/** PostgreSQL's query fingerprint (literal values ignored); '' when it cannot be computed. */
export function fingerprintOf(sql: string): string {
  assertReady();
  try {
    return pgQuery.fingerprintSync(sql);
  } catch {
    return '';
  }
}

export { assertReady };

/** One statement of a parse: the node and its byte range in the UTF-8 text. */
export interface RawStatement {
  stmt: Record<string, unknown>;
  stmt_location?: number;
  stmt_len?: number;
}
