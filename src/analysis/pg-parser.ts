// libpg-query (PostgreSQL's own parser compiled to WebAssembly). The module is loaded once;
// after that parsing is synchronous, so analysis never yields inside the operation pipeline.
import { setFlagsFromString } from 'node:v8';
import pgQuery from 'libpg-query';

let loading: Promise<void> | undefined;
let ready = false;

/** Loads the parser module. Idempotent: every caller shares the one load. */
export function initAnalysis(): Promise<void> {
  loading ??= loadWithBaselineCompiler().then(
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

// V8 tiers libpg-query's large WebAssembly module up in the background, which costs about 120 MB
// of resident memory in a long-running gateway and slows the first seconds of traffic. Compiling
// only this module with the baseline compiler (Liftoff) keeps parses at ~130 µs instead of ~100 µs
// — and parses are rare, since analysis is cached by normalized statement.
async function loadWithBaselineCompiler(): Promise<void> {
  setFlagsFromString('--liftoff-only');
  try {
    await pgQuery.loadModule();
  } finally {
    setFlagsFromString('--no-liftoff-only');
  }
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
