// Which source columns are masked by name. Config columns are lower-case and bare (`email`),
// `table.column` or `schema.table.column`; a configured name matches a source name equal to it
// or ending with `.<it>`, so `customers.email` covers `public.customers.email` but not
// `orders.email`, and bare `email` covers every table's `email`.

/**
 * Source columns masked whenever any masking applies to an identity: other sessions' SQL text,
 * literals included. Every identity reaches the target as the same database role, so without
 * this a masked agent reads the DBA's `… WHERE ssn = '…'` in pg_stat_activity. PostgreSQL
 * reports a view's own OID and attnum for its columns, so these resolve like table columns
 * (`pg_stat_statements` lives in whatever schema the extension was created in: table.column).
 * Matched only as source columns, never as bare names or JSON keys.
 */
export const ALWAYS_MASKED_SOURCES: readonly string[] = [
  'pg_catalog.pg_stat_activity.query',
  'pg_stat_statements.query',
];

export class ColumnMatcher {
  private readonly exact: ReadonlySet<string>;
  /** Last segments of configured columns: JSON keys carry no table, so any match counts. */
  private readonly leaves: ReadonlySet<string>;
  readonly size: number;

  /** `sourcesOnly`: qualified names matched like `columns` but not as JSON keys. */
  constructor(columns: readonly string[], sourcesOnly: readonly string[] = []) {
    this.exact = new Set([...columns, ...sourcesOnly]);
    this.leaves = new Set(columns.map((c) => c.slice(c.lastIndexOf('.') + 1)));
    this.size = this.exact.size;
  }

  /** True when any of `names` (one source column under its known names) is configured. */
  matches(names: readonly string[]): boolean {
    if (this.size === 0) return false;
    for (const raw of names) {
      const name = raw.toLowerCase();
      if (this.exact.has(name)) return true;
      for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
        if (this.exact.has(name.slice(dot + 1))) return true;
      }
    }
    return false;
  }

  /**
   * One lineage source (`[schema.]table.column`, or `[schema.]table.*` for a whole row): a
   * `table.column` source also matches a configured `schema.table.column` (the statement did not
   * name the schema: fail toward masking); a whole row matches when any configured column may be
   * one of its columns (a bare name always may).
   */
  matchesSource(source: string): boolean {
    if (this.size === 0) return false;
    const name = source.toLowerCase();
    if (name.endsWith('.*')) {
      const table = name.slice(0, -2);
      const bare = table.slice(table.lastIndexOf('.') + 1);
      for (const c of this.exact) {
        const parts = c.split('.');
        if (parts.length === 1) return true;
        const t = parts.slice(0, -1).join('.');
        if (t === table || t === bare || t.endsWith(`.${bare}`) || table.endsWith(`.${t}`)) return true;
      }
      return false;
    }
    if (this.matches([name])) return true;
    if (name.split('.').length === 2) for (const c of this.exact) if (c.endsWith(`.${name}`)) return true;
    return false;
  }

  /** A JSON object key: matches any configured column's last segment (fails toward masking). */
  matchesKey(key: string): boolean {
    if (this.leaves.has(key)) return true;
    const lower = key.toLowerCase();
    return lower !== key && this.leaves.has(lower);
  }
}
