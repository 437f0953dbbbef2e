// `warden policy test`: the decision for one input, without touching any target. Shared by the
// CLI (local, from a config file) and the REST API, so both explain the same way. The input is
// turned into an operation by its protocol (the registry) and the one operation builder, as a
// session of that connection would.

import { lineageOfFacts } from '../analysis/index.js';
import type { WardenConfig } from '../config/schema.js';
import { WardenError } from '../core/errors.js';
import type { Decision, Identity, MaskPlan, Operation, SqlFacts } from '../core/types.js';
import { compileMasker, outputIsMasked } from '../masking/index.js';
import type { Policy } from '../policy/index.js';
import { protocolSpec } from '../protocols/registry.js';
import { buildOperation, operationFacts } from './operation.js';

export interface PolicyTestResult {
  effect: Decision['effect'];
  rules: string[];
  reasons: Decision['reasons'];
  masking: Decision['masking'];
  review: Decision['review'];
  kind: Operation['kind'];
  facts: unknown;
}

/** The answer for an unknown connection, and for one the caller may not see (indistinguishable). */
export function unknownConnection(name: string): WardenError {
  return new WardenError('WARDEN_CONNECTION_UNKNOWN', `no connection named '${name}'`);
}

export function policyTest(
  config: WardenConfig,
  policy: Policy,
  identity: Identity,
  connectionName: string,
  input: string,
  jitGrants: string[] = [],
): PolicyTestResult {
  const conn = Object.hasOwn(config.connections, connectionName) ? config.connections[connectionName] : undefined;
  if (!conn) throw unknownConnection(connectionName);
  const toInput = protocolSpec(conn.type)?.policyInput;
  if (!toInput) {
    throw new WardenError(
      'WARDEN_USAGE',
      `policy test cannot analyse input for ${conn.type} connections yet ('${connectionName}')`,
    );
  }
  const op = buildOperation(toInput(input), {
    id: 'op_policy_test',
    session: 's_policy_test',
    connection: { name: connectionName, type: conn.type },
    identity,
    at: Date.now(),
  });
  const d = policy.decide(op, { jitGrants });
  return {
    effect: d.effect,
    rules: d.rules,
    reasons: d.reasons,
    masking: d.masking,
    review: d.review,
    kind: op.kind,
    facts: op.kind === 'sql' ? { ...op.sql, outputs: outputsOf(op.sql, d.masking) } : operationFacts(op),
  };
}

/** One output column as `policy test` shows it: its sources (column lineage) and whether the
 * decision's masking masks it. */
export interface OutputColumn {
  /** Index of the statement in the text (several statements only). */
  statement?: number;
  name: string;
  sources: readonly string[];
  unresolved?: true;
  masked: boolean;
}

/** Each output column with its sources, from the analysis's lineage (no catalog: `t.*` stays). */
function outputsOf(sql: SqlFacts, masking: MaskPlan | null): OutputColumn[] {
  const lineage = lineageOfFacts(sql) ?? [];
  const masker = masking === null ? null : compileMasker(masking);
  const out: OutputColumn[] = [];
  lineage.forEach((statement, i) => {
    for (const o of statement.outputs ?? []) {
      out.push({
        ...(lineage.length > 1 ? { statement: i } : {}),
        name: o.name,
        sources: o.sources,
        ...(o.unresolved ? { unresolved: true as const } : {}),
        masked: masker !== null && outputIsMasked(o, masker),
      });
    }
  });
  return out;
}
