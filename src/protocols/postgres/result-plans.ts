// How a result's rows are masked by column: from its shape (a RowDescription, or the Describe made
// for an Execute) and the shape's column sources in the catalog. The sources are usually cached;
// when they are not, the message waits for the lookup (its pump pauses, so order is kept).
// COPY … TO STDOUT in a masked session is planned before it is forwarded.
import type { Masker } from '../../masking/index.js';
import type { OutBuffer } from '../relay/index.js';
import type { ColumnPlan } from './column-plan.js';
import { copyColumnPlan, type copyOutSpecsOf, copyRefusal, describeSql } from './copy/index.js';
import { LineagePlanner } from './lineage-plan.js';
import type { ResultContext } from './result.js';
import type { RowShapes } from './row-shapes.js';
import type { Portal } from './statements.js';
import type { FieldDescription, MessageReader } from './wire/index.js';

export class ResultPlanner {
  private readonly lineage: LineagePlanner;

  constructor(readonly shapes: RowShapes) {
    this.lineage = new LineagePlanner(shapes.sources.lineage);
  }

  /** The by-source plan with lineage masking on top (a promise when the catalog is loading). */
  private withLineage(ctx: ResultContext, fields: FieldDescription[], base: ColumnPlan, masker: Masker) {
    const sources = this.shapes.sources.cached(fields) ?? fields.map(() => 'unknown' as const);
    return this.lineage.plan(base, sources, masker, ctx.text, ctx.statement);
  }

  /**
   * A RowDescription of a result being received: the plan its rows are masked with. Returns a
   * promise when the column sources must be looked up first.
   */
  rows(ctx: ResultContext, fields: FieldDescription[]): Promise<void> | undefined {
    const masker = ctx.masker;
    if (!masker) {
      ctx.setFields(fields, null);
      return undefined;
    }
    const base = this.shapes.cachedPlan(fields, masker);
    if (base) {
      const plan = this.withLineage(ctx, fields, base, masker);
      if (!(plan instanceof Promise)) {
        ctx.setFields(fields, plan);
        return undefined;
      }
      return plan.then((p) => ctx.setFields(fields, p));
    }
    return this.shapes
      .plan(fields, masker)
      .then((p) => this.withLineage(ctx, fields, p, masker))
      .then((p) => ctx.setFields(fields, p));
  }

  /**
   * The first row of an Execute: its shape comes from an earlier Describe (portal, or statement
   * with the Bind's result formats). When its sources are not cached, this row waits for the
   * catalog lookup and is written to `out` once planned.
   */
  execute(ctx: ResultContext, portal: Portal, m: MessageReader, out: OutBuffer): Promise<void> | undefined {
    const fields = portal.fields;
    const masker = ctx.masker;
    if (!fields || !masker) {
      ctx.setFields(fields, null);
      return undefined;
    }
    const base = this.shapes.cachedPlan(fields, masker);
    const planned = base ? this.withLineage(ctx, fields, base, masker) : undefined;
    if (planned !== undefined && !(planned instanceof Promise)) {
      ctx.setFields(fields, planned);
      return undefined;
    }
    const { buffer: buf, frameStart, start, length } = m;
    const later = planned ?? this.shapes.plan(fields, masker).then((p) => this.withLineage(ctx, fields, p, masker));
    return later.then((p) => {
      ctx.setFields(fields, p);
      ctx.dataRow(out, buf, frameStart, start, length);
    });
  }

  /** A Describe answered for a masked portal: warm the source cache so its Execute need not wait. */
  warm(fields: FieldDescription[], masker: Masker | null): Promise<void> | undefined {
    const sources = this.shapes.sources;
    if (masker && !sources.cached(fields)) return sources.resolve(fields).then(() => undefined);
    return undefined;
  }

  /**
   * COPY … TO STDOUT in a masked session: each COPY's columns are described (on the side
   * connection) before it runs, so its output is masked by column whatever its format. Returns
   * why it must not run, or null.
   */
  async copies(ctx: ResultContext, specs: ReturnType<typeof copyOutSpecsOf>): Promise<string | null> {
    const masker = ctx.masker!;
    for (const spec of specs) {
      const refusal = copyRefusal(spec, masker);
      if (refusal) return `blocked: ${refusal}`;
    }
    const sources = this.shapes.sources;
    ctx.copies = await Promise.all(
      specs.map(async (spec) => {
        const fields = await sources.describe(describeSql(spec));
        if (!fields) return { spec, plan: null };
        const src = await sources.resolve(fields);
        const base = copyColumnPlan(spec, fields, src, masker);
        // The COPY's rows are those of its query (or of `SELECT cols FROM table`): one statement.
        return { spec, plan: await this.lineage.plan(base, src, masker, describeSql(spec), 0) };
      }),
    );
    return null;
  }
}
