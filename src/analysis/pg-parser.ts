// libpg-query (PostgreSQL's own parser compiled to WebAssembly), behind a guard.
//
// A parse that ends abnormally (the JS stack overflowing inside wasm, a wasm trap, an emscripten
// abort) unwinds without running the C code's cleanup: its stack pointer and heap are left
// corrupted, and after a few dozen such parses every parse fails or returns nonsense. So the
// guard never reuses an instance after an abnormal exit: it discards it and instantiates a fresh
// one from the already compiled module (~10 ms), and that statement comes back unparsed. A
// canary statement re-parsed after heavy parses catches an instance that went bad silently.
// Syntax errors are ordinary results (the C code cleans up after them) and keep the instance.
//
// Parsing stays synchronous and in-process (analysis never yields inside the operation
// pipeline), so it has no wall-clock timeout: its time is bounded by the size and nesting limits
// that analyzePostgres checks on the lexer's pass before calling here (see sql-bounds.ts).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

/** One statement of a parse: the node and its byte range in the UTF-8 text. */
export interface RawStatement {
  stmt: Record<string, unknown>;
  stmt_location?: number;
  stmt_len?: number;
}

/** What the guard reports when the parser misbehaved or a text was refused before parsing. */
export interface ParserFailure {
  /** `crash`: the parser threw something that is not a syntax error (the instance was replaced);
   * `garbage`: the canary parse came back wrong (the instance was replaced);
   * `too-complex`: refused before parsing (size or nesting over the bounds). */
  kind: 'crash' | 'garbage' | 'too-complex';
  /** Error class and message, or the bound that was exceeded. Never the SQL text. */
  detail: string;
  /** Length of the text in characters. */
  length: number;
}

/** A syntax error from PostgreSQL's parser (the instance is fine). */
export class SqlSyntaxError extends Error {
  override name = 'SqlSyntaxError';
}

/** The parser misbehaved on this text; the instance was replaced. The text must be refused. */
export class ParserCrash extends Error {
  override name = 'ParserCrash';
}

interface PgModule {
  _malloc(n: number): number;
  _free(p: number): void;
  _wasm_parse_query_raw(p: number): number;
  _wasm_free_parse_result(p: number): void;
  _wasm_fingerprint(p: number): number;
  _wasm_scan(p: number): number;
  _wasm_free_string(p: number): void;
  getValue(p: number, type: string): number;
  lengthBytesUTF8(s: string): number;
  stringToUTF8(s: string, p: number, n: number): void;
  UTF8ToString(p: number): string;
}
type Factory = (options: Record<string, unknown>) => Promise<PgModule>;

// The WebAssembly global, typed by hand (the project's lib settings do not include it).
type WasmModule = { readonly kind: 'wasm-module' };
type WasmInstance = { readonly exports: unknown };
const Wasm = (
  globalThis as unknown as {
    WebAssembly: {
      compile(bytes: Uint8Array): Promise<WasmModule>;
      Instance: new (module: WasmModule, imports: unknown) => WasmInstance;
    };
  }
).WebAssembly;

const require = createRequire(import.meta.url);
const FACTORY_PATH = require.resolve('libpg-query/wasm/libpg-query.js');

/** Statement whose parse is compared after heavy parses; its tree is recorded at load. */
const CANARY = "SELECT a.x, count(*) FROM t a JOIN u ON u.id = a.id WHERE a.y IN (1, 'b', $1) GROUP BY 1";
/** Heavier parses than this (in bounds units, see sql-bounds.ts) are followed by a canary check. */
export const CANARY_AFTER_COST = 1000;

let compiled: WasmModule | undefined;
let factory: Factory | undefined;
let instance: PgModule | undefined;
let canaryTree = '';
let loading: Promise<void> | undefined;
let reloads = 0;
let failureHook: ((failure: ParserFailure) => void) | undefined;

/** Loads the parser. Idempotent: every caller shares the one load. */
export function initAnalysis(): Promise<void> {
  loading ??= load().catch((error: unknown) => {
    loading = undefined; // let a later call retry
    throw error;
  });
  return loading;
}

// V8 tiers libpg-query's large WebAssembly module up in the background, which costs about 120 MB
// of resident memory in a long-running gateway and slows the first seconds of traffic. Compiling
// only this module with the baseline compiler (Liftoff) keeps parses at ~130 µs instead of ~100 µs
// — and parses are rare, since analysis is cached by normalized statement.
async function load(): Promise<void> {
  setFlagsFromString('--liftoff-only');
  try {
    factory = require(FACTORY_PATH) as Factory;
    compiled = await Wasm.compile(readFileSync(FACTORY_PATH.replace(/\.js$/, '.wasm')));
    instance = await instantiate();
  } finally {
    setFlagsFromString('--no-liftoff-only');
  }
  canaryTree = rawParse(instance, CANARY);
  prepareSpares();
}

function instantiate(): Promise<PgModule> {
  const module = compiled!;
  return factory!({
    // Instantiating the compiled module is synchronous and cheap; emscripten waits for `done`.
    instantiateWasm(imports: unknown, done: (i: WasmInstance) => void) {
      done(new Wasm.Instance(module, imports));
      return {};
    },
    print: () => {},
    printErr: () => {},
  });
}

// Emscripten's factory resolves only after a few microtasks, so a replacement cannot be built
// synchronously inside a failing parse: spare instances are kept ready. A replacement is ready
// again before the next I/O callback; until then (several crashes within one synchronous burst)
// parses fail closed rather than touch a bad instance.
const SPARES = 2;
const spares: PgModule[] = [];
let sparesLoading = 0;

function prepareSpares(): void {
  if (compiled === undefined) return;
  while (spares.length + sparesLoading < SPARES) {
    sparesLoading++;
    instantiate().then(
      (m) => {
        sparesLoading--;
        spares.push(m);
      },
      () => {
        sparesLoading--;
      },
    );
  }
}

/** Replaces the current instance after it misbehaved. */
function discardInstance(): void {
  reloads++;
  instance = spares.shift();
  prepareSpares();
}

/** True once initAnalysis() has loaded the parser. */
export function analysisReady(): boolean {
  return canaryTree !== '';
}

function assertReady(): void {
  if (canaryTree === '') throw new TypeError('SQL analysis is not initialized: await initAnalysis() first');
}

/** Sets the hook told about parser crashes and texts refused as too complex (one hook; null clears). */
export function onParserFailure(hook: ((failure: ParserFailure) => void) | null): void {
  failureHook = hook ?? undefined;
}

/** Reports a failure to the hook; a hook that throws does not change the outcome. */
export function reportParserFailure(failure: ParserFailure): void {
  try {
    failureHook?.(failure);
  } catch {
    // the caller's logging problem must not turn a refusal into something else
  }
}

/** How many times an instance was replaced (tests and health reporting). */
export function parserReloads(): number {
  return reloads;
}

function withCString<T>(m: PgModule, text: string, use: (ptr: number) => T): T {
  const len = m.lengthBytesUTF8(text) + 1;
  const ptr = m._malloc(len);
  if (ptr === 0) throw new ParserCrash('out of parser memory');
  try {
    m.stringToUTF8(text, ptr, len);
    return use(ptr);
  } finally {
    m._free(ptr);
  }
}

/** The parse tree as JSON text; SqlSyntaxError on a syntax error; anything else is a crash. */
function rawParse(m: PgModule, text: string): string {
  return withCString(m, text, (queryPtr) => {
    const result = m._wasm_parse_query_raw(queryPtr);
    if (result === 0) throw new ParserCrash('parser returned no result');
    try {
      const tree = m.getValue(result, 'i32');
      const error = m.getValue(result + 8, 'i32');
      if (error !== 0) {
        const message = m.getValue(error, 'i32');
        throw new SqlSyntaxError(message === 0 ? 'syntax error' : m.UTF8ToString(message));
      }
      if (tree === 0) throw new ParserCrash('parser returned no tree');
      return m.UTF8ToString(tree);
    } finally {
      m._wasm_free_parse_result(result);
    }
  });
}

/** Runs `fn` on the current instance; a non-syntax failure replaces the instance and becomes a ParserCrash. */
function guarded<T>(text: string, fn: (m: PgModule) => T): T {
  assertReady();
  const m = instance;
  if (m === undefined) {
    instance = spares.shift();
    prepareSpares();
    if (instance !== undefined) return guarded(text, fn);
    throw new ParserCrash('parser is being reloaded');
  }
  try {
    return fn(m);
  } catch (error) {
    if (error instanceof SqlSyntaxError) throw error;
    if (m === instance) discardInstance();
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    reportParserFailure({ kind: 'crash', detail, length: text.length });
    throw new ParserCrash(detail);
  }
}

/** True when the instance still parses the canary exactly as at load; replaces it otherwise. */
export function checkCanary(length: number): boolean {
  let tree: string;
  try {
    tree = guarded(CANARY, (m) => rawParse(m, CANARY));
  } catch {
    return false; // already replaced and reported
  }
  if (tree === canaryTree) return true;
  discardInstance();
  reportParserFailure({ kind: 'garbage', detail: 'the canary statement parsed differently', length });
  return false;
}

/**
 * Parses `sql` into libpg-query's JSON tree. Throws SqlSyntaxError on a syntax error, ParserCrash
 * when the parser misbehaved (the text must be refused; later parses use a fresh instance).
 * Callers check the text's size and nesting first (sql-bounds.ts); `cost` is that estimate.
 */
export function parseTree(sql: string, cost = 0): { stmts?: RawStatement[] } {
  const json = guarded(sql, (m) => rawParse(m, sql));
  if (cost > CANARY_AFTER_COST && !checkCanary(sql.length)) throw new ParserCrash('parser state was corrupted');
  return JSON.parse(json) as { stmts?: RawStatement[] };
}

/** PostgreSQL's query fingerprint (literal values ignored); '' when it cannot be computed. */
export function fingerprintOf(sql: string): string {
  try {
    return guarded(sql, (m) =>
      withCString(m, sql, (queryPtr) => {
        const result = m._wasm_fingerprint(queryPtr);
        try {
          const text = m.UTF8ToString(result);
          return /^[0-9a-f]{16}$/.test(text) ? text : '';
        } finally {
          if (result !== 0) m._wasm_free_string(result);
        }
      }),
    );
  } catch {
    return '';
  }
}

/** libpg-query's scanner tokens of `sql` (guarded like parseTree). */
export function scanTokens(sql: string): { text?: string; start: number; end: number; keywordKind?: string }[] {
  return guarded(sql, (m) =>
    withCString(m, sql, (queryPtr) => {
      const result = m._wasm_scan(queryPtr);
      try {
        const text = m.UTF8ToString(result);
        if (!text.startsWith('{')) throw new SqlSyntaxError(text);
        return (JSON.parse(text) as { tokens?: [] }).tokens ?? [];
      } finally {
        if (result !== 0) m._wasm_free_string(result);
      }
    }),
  );
}

export { assertReady };
