// `warden policy test`: the decision for one input, without touching any target. Shared by the
// CLI (local, from a config file) and the REST API, so both explain the same way.
import { analyzeCommand, analyzePostgres } from '../analysis/index.js';
import type { WardenConfig } from '../config/schema.js';
import { WardenError } from '../core/errors.js';
import type { Decision, Identity, Operation } from '../core/types.js';
import type { Policy } from '../policy/index.js';
import { parseHttpInput } from './http-input.js';

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
  const base = {
    id: 'op_policy_test',
    session: 's_policy_test',
    connection: { name: connectionName, type: conn.type },
    identity,
    text: input,
    at: Date.now(),
  };
  let op: Operation;
  if (conn.type === 'postgres' || conn.type === 'mysql') {
    const a = analyzePostgres(input);
    op = { ...base, kind: 'sql', sql: a.facts, normalized: a.normalized };
  } else if (conn.type === 'ssh') {
    op = { ...base, kind: 'command', command: analyzeCommand(input) };
  } else {
    op = { ...base, kind: 'http', http: parseHttpInput(input) };
  }
  const d = policy.decide(op, { jitGrants });
  const facts = op.kind === 'sql' ? op.sql : op.kind === 'command' ? op.command : op.kind === 'http' ? op.http : null;
  return {
    effect: d.effect,
    rules: d.rules,
    reasons: d.reasons,
    masking: d.masking,
    review: d.review,
    kind: op.kind,
    facts,
  };
}
