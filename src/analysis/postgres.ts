// analyzePostgres: SQL text → facts, through a cache keyed by the normalized text, so a
// statement repeated with other literals costs one lexer pass and a hash lookup, not a parse.
import { createHash } from 'node:crypto';
import type { SqlFacts, SqlKind } from '../core/types.js';
import { type LineageCatalog, lineageOfStatements, type StatementLineage } from './lineage.js';
import { LruCache } from './lru.js';
import { assertReady, fingerprintOf, parseTree, type RawStatement, reportParserFailure } from './pg-parser.js';
import { boundsProblem } from './sql-bounds.js';
import { factsOfStatements, type TreeFacts } from './sql-facts.js';
import { WRITE_KINDS } from './sql-kinds.js';
import { type NormalizedSql, normalizeSql } from './sql-lexer.js';

export interface SqlAnalysis {
  /** Shared with other analyses through the cache: frozen, do not modify. */
  facts: SqlFacts;
  /** The text with literals replaced by `?`, whitespace and comments collapsed. */
  normalized: string;
  /** Each statement's source text, in order (for per-statement recording). */
  statements: string[];
  /** `PREPARE name AS s` in this text: what to add to the session's `prepared` map (name as
   * PostgreSQL folds it, kinds of `s`). Empty for most texts. */
  prepares: readonly PreparedKinds[];
}

export interface PreparedKinds {
  readonly name: string;
  readonly kinds: readonly SqlKind[];
}

export interface SqlContext {
  /** Kinds of the statements this session prepared, by name (for `EXECUTE name`). */
  prepared?: ReadonlyMap<string, readonly SqlKind[]>;
}

interface CacheEntry {
  facts: SqlFacts;
  executes: readonly { name: string; at: number }[];
  prepares: readonly PreparedKinds[];
  /** Per statement: ordinals (in NormalizedSql.semicolons) of the `;` before it and the `;`
   * that ends it, -1 for the start / end of the text. Ordinals survive literal changes. */
  bounds: readonly (readonly [number, number])[];
  literalSensitive: boolean;
}

/** Column lineage (without a catalog) of each cached analysis's statements, by its facts object. */
const lineageByFacts = new WeakMap<SqlFacts, readonly StatementLineage[]>();

const CACHE_ENTRIES = 10_000;
/** Longer texts are analyzed every time rather than pinned in memory as cache keys. */
const MAX_CACHED_LENGTH = 64 * 1024;
/**
 * Longer texts are not parsed at all (they come back unparsed, so fail-closed rules block them):
 * libpg-query takes about a second on a 140 KB statement, and parsing runs on the event loop
 * that every session shares.
 */
export const MAX_ANALYZED_LENGTH = 100 * 1024;
/** Prefix for entries keyed by the exact text; a NUL never reaches the cache otherwise. */
const EXACT_KEY = '\u0000';

const cache = new LruCache<string, CacheEntry>(CACHE_ENTRIES);

/** `limits.boundedWriteRows`: an INSERT … SELECT with a LIMIT up to this is bounded. */
let boundedWriteRows = 1000;

/** Sets `limits.boundedWriteRows` (from the config); cached analyses are dropped when it changes. */
export function setBoundedWriteRows(rows: number): void {
  if (!Number.isInteger(rows) || rows < 0)
    throw new TypeError('setBoundedWriteRows: rows must be a non-negative integer');
  if (rows === boundedWriteRows) return;
  boundedWriteRows = rows;
  cache.clear();
}

/** Analyzes PostgreSQL text. Never throws on bad SQL: it comes back with `parsed: false`. */
export function analyzePostgres(text: string, ctx?: SqlContext): SqlAnalysis {
  if (typeof text !== 'string') throw new TypeError('analyzePostgres: text must be a string');
  assertReady();
  // A NUL ends the text for the server's C string but not for us: refuse to guess.
  if (text.includes('\u0000')) return unparsed(text, normalizeSql(text.replaceAll('\u0000', ' ')).text);
  if (text.length > MAX_ANALYZED_LENGTH)
    return unparsed(text, `${normalizeSql(text.slice(0, 200)).text}… (${text.length} characters, too long to analyze)`);

  const normalized = normalizeSql(text);
  // Size and nesting bounds, from the lexer's own pass: a parser bomb never reaches the parser.
  const problem = boundsProblem(normalized);
  if (problem !== null) {
    reportParserFailure({ kind: 'too-complex', detail: problem, length: text.length });
    return unparsed(text, `${normalized.text.slice(0, 200)}… (${problem})`);
  }
  const cacheable = normalized.complete && text.length <= MAX_CACHED_LENGTH;
  let entry = cacheable ? cache.get(normalized.text) : undefined;
  if (entry?.literalSensitive) entry = cache.get(EXACT_KEY + text);
  if (entry === undefined) {
    const fresh = analyzeUncached(text, normalized);
    if (fresh === undefined) return unparsed(text, normalized.text);
    entry = fresh;
    if (cacheable) {
      cache.set(normalized.text, entry);
      if (entry.literalSensitive) cache.set(EXACT_KEY + text, entry);
    }
  }

  const facts =
    ctx?.prepared !== undefined && entry.executes.length > 0 ? withPrepared(entry, ctx.prepared) : entry.facts;
  return {
    facts,
    normalized: normalized.text,
    statements: statementTexts(text, normalized.semicolons, entry.bounds),
    prepares: entry.prepares,
  };
}

/**
 * The column lineage of an analysis's statements, from the same parse (no catalog: a `*` of a
 * table is symbolic). undefined for facts not straight from the cache (unparsed, EXECUTE merges).
 */
export function lineageOfFacts(facts: SqlFacts): readonly StatementLineage[] | undefined {
  return lineageByFacts.get(facts);
}

/** Facts copied from cached ones with more facts added (e.g. `maskedOutputs`) keep their lineage. */
export function copiedFacts(original: SqlFacts, copy: SqlFacts): SqlFacts {
  const lineage = lineageByFacts.get(original);
  if (lineage !== undefined) lineageByFacts.set(copy, lineage);
  return copy;
}

const lineageCaches = new WeakMap<LineageCatalog, LruCache<string, readonly StatementLineage[] | null>>();
const LINEAGE_ENTRIES = 2_000;

/**
 * Lineage of `text` against a catalog (`*` expanded, views followed), computed once per normalized
 * text and catalog. null when the text does not analyze (callers fail closed).
 */
export function lineageWithCatalog(text: string, catalog: LineageCatalog): readonly StatementLineage[] | null {
  const analysis = analyzePostgres(text);
  if (!analysis.facts.parsed) return null;
  let cache = lineageCaches.get(catalog);
  if (cache === undefined) {
    cache = new LruCache(LINEAGE_ENTRIES);
    lineageCaches.set(catalog, cache);
  }
  const sensitive = lineageOfFacts(analysis.facts)?.some((l) => l.literalSensitive) ?? true;
  const key = sensitive ? EXACT_KEY + text : analysis.normalized;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let lineage: readonly StatementLineage[] | null;
  try {
    lineage = Object.freeze(
      lineageOfStatements(
        (parseTree(text).stmts ?? []).map((s) => s.stmt),
        catalog,
      ),
    );
  } catch {
    lineage = null;
  }
  if (text.length <= MAX_CACHED_LENGTH) cache.set(key, lineage);
  return lineage;
}

/** Number of cached analyses (for tests and benchmarks). */
export function sqlAnalysisCacheSize(): number {
  return cache.size;
}

export function clearSqlAnalysisCache(): void {
  cache.clear();
}

function analyzeUncached(text: string, normalized: NormalizedSql): CacheEntry | undefined {
  const options = { maxRows: boundedWriteRows };
  if (normalized.text === '') return entryOf(factsOfStatements([], options), [], '', []);
  let statements: RawStatement[];
  let tree: TreeFacts;
  try {
    statements = parseTree(text, normalized.cost).stmts ?? [];
    tree = factsOfStatements(
      statements.map((s) => s.stmt),
      options,
    );
  } catch {
    // A syntax error, a parser crash (already reported; the parser was replaced), SQL in a string
    // argument that does not analyze, or a tree too deep to walk: fail closed as unparsed.
    return undefined;
  }
  const bounds = statementBounds(text, normalized.semicolons, statements);
  const lineage = lineageOfStatements(statements.map((s) => s.stmt));
  if (lineage.some((l) => l.literalSensitive)) tree.literalSensitive = true;
  const entry = entryOf(tree, statements, fingerprintOf(text), bounds, lineage);
  lineageByFacts.set(entry.facts, lineage);
  return entry;
}

function entryOf(
  tree: TreeFacts,
  statements: readonly RawStatement[],
  fingerprint: string,
  bounds: CacheEntry['bounds'],
  lineage: readonly StatementLineage[] = [],
): CacheEntry {
  const filters = new Set<string>();
  for (const l of lineage) for (const f of l.filters) filters.add(f);
  const facts: SqlFacts = {
    kinds: Object.freeze(tree.kinds) as SqlKind[],
    tables: Object.freeze(tree.tables) as string[],
    writtenTables: Object.freeze(tree.writtenTables) as string[],
    functions: Object.freeze(tree.functions) as string[],
    writes: tree.writes,
    allWritesFiltered: tree.allWritesFiltered,
    copyProgram: tree.copyProgram,
    serverFile: tree.serverFile,
    settings: Object.freeze(tree.settings) as string[],
    multiStatement: statements.length > 1,
    parsed: true,
    fingerprint,
    dynamicSql: tree.dynamicSql,
    maskedOutputs: Object.freeze([]) as unknown as string[],
    filterColumns: Object.freeze([...filters].sort()) as string[],
  };
  return {
    facts: Object.freeze(facts),
    executes: Object.freeze(tree.executes),
    prepares: Object.freeze(tree.prepares.map((p) => Object.freeze({ name: p.name, kinds: Object.freeze(p.kinds) }))),
    bounds: Object.freeze(bounds),
    literalSensitive: tree.literalSensitive,
  };
}

/** Facts for text that does not parse: fail closed (a write, unfiltered). Not cached. */
function unparsed(text: string, normalized: string): SqlAnalysis {
  const facts: SqlFacts = {
    kinds: ['unparsed'],
    tables: [],
    writtenTables: [],
    functions: [],
    writes: true,
    allWritesFiltered: false,
    copyProgram: false,
    serverFile: false,
    settings: [],
    multiStatement: false,
    parsed: false,
    fingerprint: createHash('sha256').update(normalized).digest('hex').slice(0, 16),
    dynamicSql: false,
    maskedOutputs: [],
    filterColumns: [],
  };
  const trimmed = text.trim();
  return { facts, normalized, statements: trimmed === '' ? [] : [trimmed], prepares: [] };
}

/** EXECUTE p: the kinds of p (as the session prepared it) go in after `execute`. A fresh copy,
 * so one session's prepared statements never reach the shared cache entry. */
function withPrepared(entry: CacheEntry, prepared: ReadonlyMap<string, readonly SqlKind[]>): SqlFacts {
  const base = entry.facts.kinds;
  const kinds: SqlKind[] = [];
  let writes = entry.facts.writes;
  let next = 0;
  for (const { name, at } of entry.executes) {
    while (next < at) kinds.push(base[next++]!);
    for (const kind of prepared.get(name) ?? []) {
      kinds.push(kind);
      if (WRITE_KINDS.has(kind)) writes = true;
    }
  }
  while (next < base.length) kinds.push(base[next++]!);
  return { ...entry.facts, kinds, writes };
}

/** Maps libpg-query's statement byte ranges onto `;` ordinals (cold path: runs once per entry). */
function statementBounds(
  text: string,
  semicolons: readonly number[],
  statements: readonly RawStatement[],
): [number, number][] {
  // libpg-query reports UTF-8 byte offsets; the lexer reports UTF-16 indexes.
  const ascii = !/[^\u0000-\u007f]/.test(text);
  const semicolonBytes = ascii ? semicolons : semicolons.map((at) => Buffer.byteLength(text.slice(0, at)));
  return statements.map((s) => {
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len === undefined || s.stmt_len === 0 ? Number.POSITIVE_INFINITY : start + s.stmt_len;
    let before = -1;
    let after = -1;
    for (let i = 0; i < semicolonBytes.length; i++) {
      const at = semicolonBytes[i]!;
      if (at < start) before = i;
      else if (at >= end) {
        after = i;
        break;
      }
    }
    return [before, after];
  });
}

function statementTexts(
  text: string,
  semicolons: readonly number[],
  bounds: readonly (readonly [number, number])[],
): string[] {
  if (bounds.length === 1 && semicolons.length === 0) return [text.trim()];
  return bounds.map(([before, after]) => {
    const start = before === -1 ? 0 : semicolons[before]! + 1;
    const end = after === -1 ? text.length : semicolons[after]!;
    return text.slice(start, end).trim();
  });
}
