// Row shapes of one session: RowDescriptions parsed once per distinct message (a session sends
// the same few shapes again and again; the parsed fields are shared read-only) and the column
// plan of each shape per masker, once the shape's column sources are known.
import type { Masker } from '../../masking/index.js';
import { buildColumnPlan, type ColumnPlan } from './column-plan.js';
import type { ColumnSources } from './column-sources.js';
import { type FieldDescription, parseRowDescription, sameLatin1 } from './wire/index.js';

/** RowDescriptions kept parsed per session, and the largest one kept. */
const CACHE_SIZE = 64;
const CACHE_BYTES = 4096;

export class RowShapes {
  private readonly shapes = new Map<string, FieldDescription[]>();
  private readonly plans = new WeakMap<FieldDescription[], Map<Masker, ColumnPlan>>();
  /** The last shape seen and its map key: a session mostly repeats one statement's shape, and
   * comparing the bytes with that key costs less than making a new key. */
  private lastKey = '';
  private lastFields: FieldDescription[] = [];

  constructor(readonly sources: ColumnSources) {}

  fields(buf: Buffer, start: number, length: number): FieldDescription[] {
    if (length > CACHE_BYTES) return parseRowDescription(buf, start, length);
    const last = this.lastKey;
    if (last.length === length && length > 0 && sameLatin1(buf, start, last)) return this.lastFields;
    const key = buf.toString('latin1', start, start + length);
    let fields = this.shapes.get(key);
    if (fields === undefined) {
      fields = parseRowDescription(buf, start, length);
      if (this.shapes.size >= CACHE_SIZE) this.shapes.delete(this.shapes.keys().next().value!);
      this.shapes.set(key, fields);
    }
    this.lastKey = key;
    this.lastFields = fields;
    return fields;
  }

  /** The column plan for a shape and masker once its sources are known (null until then). */
  cachedPlan(fields: FieldDescription[], masker: Masker): ColumnPlan | null {
    let byMasker = this.plans.get(fields);
    const hit = byMasker?.get(masker);
    if (hit) return hit;
    const src = this.sources.cached(fields);
    if (!src) return null;
    const plan = buildColumnPlan(fields, masker, src);
    if (!byMasker) {
      byMasker = new Map();
      this.plans.set(fields, byMasker);
    }
    byMasker.set(masker, plan);
    return plan;
  }

  /** The plan after looking the sources up (the catalog may be asked). */
  async plan(fields: FieldDescription[], masker: Masker): Promise<ColumnPlan> {
    return buildColumnPlan(fields, masker, await this.sources.resolve(fields));
  }
}
