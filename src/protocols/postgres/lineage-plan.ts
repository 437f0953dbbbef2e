// Masking by column lineage on top of masking by source. RowDescription names a table column only
// for a column read straight from a table; an expression (`email || '-'`, `reverse(email)`,
// `string_agg(card_number, ',')`) has no table OID, and a view's column names the view. For those
// columns, the statement's lineage (src/analysis/lineage.ts, against the connection's catalog)
// says which source columns the value comes from; one that derives from a masked source is masked
// whole (text → redacted text, anything else → NULL). Computed once per statement text and
// catalog, and the resulting plan once per row shape and statement: nothing here runs per row.
import {
  analyzePostgres,
  lineageOfFacts,
  lineageWithCatalog,
  type OutputLineage,
  type StatementLineage,
  UNTRACED,
} from '../../analysis/index.js';
import { LruCache } from '../../analysis/lru.js';
import type { SqlFacts } from '../../core/types.js';
import { type Masker, outputIsMasked, statementTouchesMasked } from '../../masking/index.js';
import { CellMode, type ColumnPlan } from './column-plan.js';
import type { SourceOf } from './column-sources.js';
import type { LineageCatalogs, PgLineageCatalog } from './lineage-catalog.js';
import type { FieldDescription } from './wire/index.js';

/** What decides a column by lineage: an expression (no source) or a view's column. */
function needsLineage(plan: ColumnPlan, sources: readonly SourceOf[], catalog: PgLineageCatalog): boolean {
  for (let i = 0; i < plan.modes.length; i++) {
    const mode = plan.modes[i];
    if (mode === CellMode.RedactText || mode === CellMode.Null) continue;
    const src = sources[i];
    if (src === null || src === undefined) return true;
    if (src === 'unknown') continue;
    const relation = `${src.schema}.${src.table}`;
    if (catalog.isView(relation) || !catalog.has(relation)) return true;
  }
  return false;
}

const overlays = new WeakMap<ColumnPlan, WeakMap<StatementLineage, ColumnPlan>>();
/** Plans that need no lineage at all, per catalog (the common case: plain table columns). */
const plain = new WeakMap<ColumnPlan, PgLineageCatalog>();

export class LineagePlanner {
  constructor(private readonly catalogs: LineageCatalogs) {}

  /**
   * `base` with the columns lineage masks; a promise when the catalog must be loaded first.
   * `statement` is the index of the statement in `text` whose rows these are.
   */
  plan(
    base: ColumnPlan,
    sources: readonly SourceOf[],
    masker: Masker,
    text: string,
    statement: number,
  ): ColumnPlan | Promise<ColumnPlan> {
    if (!masker.masksColumns) return base;
    const current = this.catalogs.current;
    if (current !== null && plain.get(base) === current) return base;
    // Relations the statement names and the result's sources: a catalog that does not know one
    // is loaded again first (it may be a view created since).
    const facts = factsOf(text);
    const names = [...(facts?.tables ?? []), ...relationsOf(sources)];
    const catalog = this.catalogs.cached(names);
    if (catalog === null)
      return this.catalogs.get(names).then((c) => this.planWith(base, sources, masker, text, facts, statement, c));
    return this.planWith(base, sources, masker, text, facts, statement, catalog);
  }

  private planWith(
    base: ColumnPlan,
    sources: readonly SourceOf[],
    masker: Masker,
    text: string,
    facts: SqlFacts | null,
    statement: number,
    catalog: PgLineageCatalog,
  ): ColumnPlan {
    if (!needsLineage(base, sources, catalog)) {
      plain.set(base, catalog);
      return base;
    }
    const lineage = (facts === null ? null : lineageFor(text, facts, catalog))?.[statement] ?? UNTRACED;
    let byLineage = overlays.get(base);
    const hit = byLineage?.get(lineage);
    if (hit !== undefined) return hit;
    const plan = overlay(base, sources, masker, lineage, catalog);
    if (byLineage === undefined) {
      byLineage = new WeakMap();
      overlays.set(base, byLineage);
    }
    byLineage.set(lineage, plan);
    return plan;
  }
}

/** Texts longer than this are not analyzed again for lineage: their computed columns are masked
 * (fail closed) rather than parsed a second time on the shared event loop. */
const MAX_LINEAGE_TEXT = 64 * 1024;
/** Recent texts' facts by the exact text, so a repeated statement costs a hash lookup. */
const recent = new LruCache<string, SqlFacts>(512);
const MAX_RECENT_KEY = 8 * 1024;

/** The analysis of `text` (the decision's own, from the analysis cache), or null: not traced. */
function factsOf(text: string): SqlFacts | null {
  if (text.length > MAX_LINEAGE_TEXT) return null;
  let facts = text.length <= MAX_RECENT_KEY ? recent.get(text) : undefined;
  if (facts === undefined) {
    facts = analyzePostgres(text).facts;
    if (text.length <= MAX_RECENT_KEY) recent.set(text, facts);
  }
  return facts.parsed ? facts : null;
}

/**
 * The statement's lineage: the analysis's own (no second parse) unless the catalog changes it —
 * a `*` or whole row of a table, a view, a user-defined function.
 */
function lineageFor(text: string, facts: SqlFacts, catalog: PgLineageCatalog): readonly StatementLineage[] | null {
  const own = lineageOfFacts(facts);
  if (own !== undefined && !needsCatalog(own, facts, catalog)) return own;
  return lineageWithCatalog(text, catalog);
}

function needsCatalog(lineage: readonly StatementLineage[], facts: SqlFacts, catalog: PgLineageCatalog): boolean {
  for (const t of facts.tables) if (catalog.isView(t)) return true;
  for (const f of facts.functions) if (catalog.isUserFunction(f)) return true;
  for (const l of lineage) {
    for (const r of l.reads) if (r.endsWith('.*')) return true;
    for (const o of l.outputs ?? []) if (o.star) return true;
  }
  return false;
}

function relationsOf(sources: readonly SourceOf[]): string[] {
  const out: string[] = [];
  for (const s of sources) if (s !== null && s !== 'unknown') out.push(`${s.schema}.${s.table}`);
  return out;
}

/** Each output column's lineage by position, or null when the outputs cannot be lined up. */
export function alignOutputs(
  outputs: readonly OutputLineage[] | null,
  width: number,
): readonly (OutputLineage | undefined)[] | null {
  if (outputs === null) return null;
  const stars = outputs.filter((o) => o.star).length;
  if (stars === 0) return outputs.length === width ? outputs : null;
  // One `*` of unknown width: it covers whatever the other outputs leave.
  if (stars > 1) return null;
  const starWidth = width - (outputs.length - 1);
  if (starWidth < 0) return null;
  const out: (OutputLineage | undefined)[] = [];
  for (const o of outputs) {
    if (o.star) for (let i = 0; i < starWidth; i++) out.push(o);
    else out.push(o);
  }
  return out;
}

function overlay(
  base: ColumnPlan,
  sources: readonly SourceOf[],
  masker: Masker,
  lineage: StatementLineage,
  catalog: PgLineageCatalog,
): ColumnPlan {
  const fields = base.fields;
  const aligned = alignOutputs(lineage.outputs, fields.length);
  const touches = statementTouchesMasked(lineage, masker);
  const modes = base.modes.slice();
  let changed = false;
  for (let i = 0; i < modes.length; i++) {
    const mode = modes[i]!;
    if (mode === CellMode.RedactText || mode === CellMode.Null) continue;
    const src = sources[i];
    let masked: boolean;
    if (src !== null && src !== undefined && src !== 'unknown') {
      const qualified = `${src.schema}.${src.table}`;
      if (!catalog.isView(qualified)) continue;
      const view = catalog.relation(qualified);
      const at = view?.columns.indexOf(src.column) ?? -1;
      masked =
        view === undefined ||
        at < 0 ||
        view.unresolved?.[at] === true ||
        (view.sources?.[at] ?? []).some((s) => masker.sourceIsMasked(s));
    } else {
      const output = aligned?.[i];
      // Not lined up (or not traced at all): masked when the statement reads anything masked.
      if (output === undefined) masked = touches;
      else if (output.jsonRow && mode === CellMode.DetectJson)
        masked = false; // keys masked in the JSON
      else masked = outputIsMasked(output, masker);
    }
    if (!masked) continue;
    modes[i] = maskedMode(mode, fields[i]!);
    changed = true;
  }
  return changed ? { fields, modes, active: true } : base;
}

/** A masked column keeps its type valid: text → redacted text, anything else → NULL. */
function maskedMode(mode: CellMode, _field: FieldDescription): CellMode {
  return mode === CellMode.DetectText ? CellMode.RedactAll : CellMode.Null;
}
