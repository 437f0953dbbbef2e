// Which output columns column lineage masks for one masker. Protocol-neutral: adapters ask per
// output column position, `policy test` and the rules' `op.sql.maskedOutputs` per name.
import type { OutputLineage, StatementLineage } from '../analysis/lineage.js';
import type { Masker } from './masker.js';

/** The plan names columns to mask: then what lineage cannot trace may be one of them. */
function failsClosed(masker: Masker): boolean {
  return masker.plan.columns.length > 0;
}

/**
 * True when the output derives from a masked source, or when some part of it could not be traced
 * and the plan masks columns (fail closed: it may be one of them).
 */
export function outputIsMasked(output: OutputLineage, masker: Masker): boolean {
  if (!masker.masksColumns) return false;
  if (output.unresolved && failsClosed(masker)) return true;
  for (const s of output.sources) if (masker.sourceIsMasked(s)) return true;
  return false;
}

/** The statement reads a masked source anywhere, or reads through something lineage cannot see. */
export function statementTouchesMasked(statement: StatementLineage, masker: Masker): boolean {
  if (!masker.masksColumns) return false;
  if (statement.opaque && failsClosed(masker)) return true;
  for (const s of statement.reads) if (masker.sourceIsMasked(s)) return true;
  return false;
}

const byLineage = new WeakMap<readonly StatementLineage[], WeakMap<Masker, readonly string[]>>();

/**
 * `op.sql.maskedOutputs`: the names of the output columns lineage masks, over every statement
 * (`*` of a table lineage could not list stays `table.*`); cached per lineage and masker.
 */
export function maskedOutputNames(lineage: readonly StatementLineage[], masker: Masker): readonly string[] {
  let perMasker = byLineage.get(lineage);
  const hit = perMasker?.get(masker);
  if (hit !== undefined) return hit;
  const names: string[] = [];
  for (const statement of lineage) {
    if (statement.outputs === null) {
      if (statementTouchesMasked(statement, masker)) names.push('*');
      continue;
    }
    for (const output of statement.outputs) if (outputIsMasked(output, masker)) names.push(output.name);
  }
  const frozen = Object.freeze(names);
  if (perMasker === undefined) {
    perMasker = new WeakMap();
    byLineage.set(lineage, perMasker);
  }
  perMasker.set(masker, frozen);
  return frozen;
}
