// RowDescription columns → their source table column (schema.table.column), through the
// per-connection CatalogLookup. Kept here with a synchronous cache so the common case (a shape
// seen before) costs no await in the data path.
import { LineageCatalogs } from './lineage-catalog.js';
import type { CatalogLookup, ColumnSource } from './upstream/index.js';
import type { FieldDescription } from './wire/index.js';

/** `null`: not a table column (an expression); `'unknown'`: lookup failed — masked to be safe. */
export type SourceOf = ColumnSource | null | 'unknown';

export class ColumnSources {
  private readonly cache = new Map<number, Map<number, ColumnSource | null>>();
  /** Relations, views and functions for column lineage (lineage-catalog.ts), loaded when first needed. */
  readonly lineage: LineageCatalogs;

  constructor(
    private readonly catalog: CatalogLookup,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.lineage = new LineageCatalogs((sql) => catalog.query(sql), onError);
  }

  /** Sources when every table column of `fields` is cached, else null. */
  cached(fields: readonly FieldDescription[]): SourceOf[] | null {
    const out = new Array<SourceOf>(fields.length);
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i] as FieldDescription;
      if (f.tableOID === 0) {
        out[i] = null;
        continue;
      }
      const byAtt = this.cache.get(f.tableOID);
      const hit = byAtt?.get(f.attnum);
      if (hit === undefined) return null;
      out[i] = hit;
    }
    return out;
  }

  async resolve(fields: readonly FieldDescription[]): Promise<SourceOf[]> {
    const pairs = fields.map((f) => ({ tableOID: f.tableOID, attnum: f.attnum }));
    try {
      const found = await this.catalog.resolve(pairs);
      found.forEach((src, i) => {
        const f = fields[i] as FieldDescription;
        if (f.tableOID === 0) return;
        let byAtt = this.cache.get(f.tableOID);
        if (!byAtt) {
          byAtt = new Map();
          this.cache.set(f.tableOID, byAtt);
        }
        byAtt.set(
          f.attnum,
          src
            ? { schema: src.schema.toLowerCase(), table: src.table.toLowerCase(), column: src.column.toLowerCase() }
            : null,
        );
      });
      return this.cached(fields) ?? fields.map(() => 'unknown');
    } catch (err) {
      this.onError(err);
      // Fail closed: a column we cannot trace is treated as sensitive.
      return fields.map((f) => (f.tableOID === 0 ? null : 'unknown'));
    }
  }

  /**
   * The columns `sql` would return (Parse + Describe on the side connection, not executed), for
   * results whose RowDescription carries no sources (COPY … TO STDOUT). null when it cannot be
   * described (error, or no rows): callers mask everything then.
   */
  async describe(sql: string): Promise<FieldDescription[] | null> {
    try {
      return await this.catalog.describe(sql);
    } catch (err) {
      this.onError(err);
      return null;
    }
  }

  close(): Promise<void> {
    return this.catalog.close();
  }
}
