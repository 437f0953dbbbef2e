// The target's catalog as column lineage needs it (src/analysis/lineage.ts): every relation with
// its columns (for `*` and whole-row references), each view's definition traced to its source
// columns (views over views included), and the functions that are not PostgreSQL's own. Loaded
// with two queries on the connection's side connection when a masked session first needs it,
// shared by every session of the connection, and loaded again when a statement names a relation
// it does not know (created since; at most every few seconds per name) or reads a view through a
// catalog older than two seconds (the view may have been replaced since).
import { type CatalogRelation, type LineageCatalog, lineageOfStatements } from '../../analysis/lineage.js';
import { parseTree } from '../../analysis/pg-parser.js';

// Fixed texts: nothing from a client reaches them.
const RELATIONS_SQL =
  'SELECT n.nspname, c.relname, c.relkind, ' +
  "(SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_catalog.pg_attribute a " +
  'WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::text, ' +
  "CASE WHEN c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') " +
  'THEN pg_catalog.pg_get_viewdef(c.oid) END ' +
  'FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ' +
  "WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";
const USER_FUNCTIONS_SQL =
  'SELECT DISTINCT p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace ' +
  "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')";

/** A name missing after a reload is not looked for again before this long. */
const MISS_RETRY_MS = 5_000;
/** A statement that reads a view is planned with a catalog at most this old (another session
 * may have replaced the view: `CREATE OR REPLACE VIEW v AS SELECT email AS a …`). */
const VIEW_TTL_MS = 2_000;

interface RawRelation {
  qualified: string;
  columns: string[];
  viewdef: string | null;
}

/** One loaded catalog (immutable once built; view lineage filled in lazily). */
export class PgLineageCatalog implements LineageCatalog {
  private readonly byName = new Map<string, RawRelation>();
  private readonly resolved = new Map<string, CatalogRelation>();
  private readonly resolving = new Set<string>();

  constructor(
    relations: readonly RawRelation[],
    private readonly userFunctions: ReadonlySet<string>,
    readonly loadedAt: number,
    /** False when the catalog could not be read: lineage is symbolic only. */
    readonly complete = true,
  ) {
    // Unqualified names as the default search path finds them: pg_catalog first, then public.
    const rank = (q: string) => (q.startsWith('pg_catalog.') ? 0 : q.startsWith('public.') ? 1 : 2);
    const sorted = [...relations].sort((a, b) => rank(a.qualified) - rank(b.qualified));
    for (const r of sorted) {
      this.byName.set(r.qualified, r);
      const bare = r.qualified.slice(r.qualified.indexOf('.') + 1);
      if (!this.byName.has(bare)) this.byName.set(bare, r);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** True when `schema.table` (or a bare name) is a view this catalog traced. */
  isView(name: string): boolean {
    return this.byName.get(name)?.viewdef != null;
  }

  relation(name: string): CatalogRelation | undefined {
    const raw = this.byName.get(name);
    if (raw === undefined) return undefined;
    if (raw.viewdef === null) return { qualified: raw.qualified, columns: raw.columns };
    const hit = this.resolved.get(raw.qualified);
    if (hit !== undefined) return hit;
    // A view that (through others) reads itself cannot exist; guard anyway.
    if (this.resolving.has(raw.qualified))
      return { qualified: raw.qualified, columns: raw.columns, sources: [], unresolved: raw.columns.map(() => true) };
    this.resolving.add(raw.qualified);
    try {
      const view = this.traceView(raw);
      this.resolved.set(raw.qualified, view);
      return view;
    } finally {
      this.resolving.delete(raw.qualified);
    }
  }

  isUserFunction(name: string): boolean {
    return this.userFunctions.has(name);
  }

  private traceView(raw: RawRelation): CatalogRelation {
    const unresolved = (): CatalogRelation => ({
      qualified: raw.qualified,
      columns: raw.columns,
      sources: raw.columns.map(() => []),
      unresolved: raw.columns.map(() => true),
    });
    let outputs: ReturnType<typeof lineageOfStatements>[number]['outputs'];
    try {
      const stmts = parseTree(raw.viewdef!).stmts ?? [];
      if (stmts.length !== 1) return unresolved();
      outputs = lineageOfStatements([stmts[0]!.stmt], this)[0]?.outputs ?? null;
    } catch {
      return unresolved();
    }
    if (outputs === null || outputs.length !== raw.columns.length || outputs.some((o) => o.star)) return unresolved();
    return {
      qualified: raw.qualified,
      columns: raw.columns,
      sources: outputs.map((o) => o.sources),
      unresolved: outputs.map((o) => o.unresolved),
    };
  }
}

/** The current catalog of one connection, and its (re)loading. */
export class LineageCatalogs {
  private loaded: PgLineageCatalog | null = null;
  private loading: Promise<PgLineageCatalog> | null = null;
  /** Names missing from the last load, and when that load was. */
  private readonly missing = new Map<string, number>();

  constructor(
    private readonly query: (sql: string) => Promise<(string | null)[][]>,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** The last loaded catalog, whatever it knows. */
  get current(): PgLineageCatalog | null {
    return this.loaded;
  }

  /** The loaded catalog when it knows every one of `names` (or will not be reloaded for them yet). */
  cached(names: readonly string[] = []): PgLineageCatalog | null {
    const c = this.loaded;
    if (c === null) return null;
    return this.needsReload(c, names) ? null : c;
  }

  /** The catalog, loaded (again) first when it is missing or does not know some of `names`. */
  async get(names: readonly string[] = []): Promise<PgLineageCatalog> {
    const c = this.loaded;
    if (c !== null && !this.needsReload(c, names)) return c;
    const loaded = await this.load();
    for (const n of names) if (!loaded.has(n)) this.missing.set(n, loaded.loadedAt);
    return loaded;
  }

  private needsReload(c: PgLineageCatalog, names: readonly string[]): boolean {
    if (!c.complete && this.now() - c.loadedAt > MISS_RETRY_MS) return true;
    const age = this.now() - c.loadedAt;
    for (const n of names) {
      if (c.has(n)) {
        if (age > VIEW_TTL_MS && c.isView(n)) return true;
        continue;
      }
      const since = this.missing.get(n);
      if (since === undefined || this.now() - since > MISS_RETRY_MS) return true;
    }
    return false;
  }

  private load(): Promise<PgLineageCatalog> {
    this.loading ??= this.fetch().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async fetch(): Promise<PgLineageCatalog> {
    const at = this.now();
    let catalog: PgLineageCatalog;
    try {
      const rows = await this.query(RELATIONS_SQL);
      const functions = await this.query(USER_FUNCTIONS_SQL);
      const relations: RawRelation[] = rows.map(([schema, name, , columns, viewdef]) => ({
        qualified: `${schema}.${name}`.toLowerCase(),
        columns: (JSON.parse(columns ?? '[]') as string[]).map((c) => c.toLowerCase()),
        viewdef: viewdef ?? null,
      }));
      catalog = new PgLineageCatalog(relations, new Set(functions.map(([n]) => (n ?? '').toLowerCase())), at);
    } catch (err) {
      this.onError(err);
      // Fail closed downstream: lineage without a catalog is symbolic, and what it cannot align
      // is masked.
      catalog = new PgLineageCatalog([], new Set(), at, false);
    }
    this.loaded = catalog;
    this.missing.clear();
    return catalog;
  }
}
