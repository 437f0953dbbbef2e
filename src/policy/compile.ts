// Load-time work: every rule's condition compiled once, scopes turned into sets, durations into ms.
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { RuleConfig, WardenConfig } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';
import { type CompiledCondition, compileCondition } from './cel.js';

export interface CompiledRule {
  index: number;
  name: string;
  action: RuleConfig['action'];
  message: string | undefined;
  /** null = every group / every connection. */
  groups: ReadonlySet<string> | null;
  connections: ReadonlySet<string> | null;
  approvers: { groups: string[]; count: number } | null;
  holdMs: number;
  condition: CompiledCondition;
}

/**
 * Problems with rules that the schema alone cannot see: `when` that does not compile
 * (`rules[2].when: unknown field 'op.sql.kindz'`) and review rules without approvers. Takes
 * unvalidated input so `warden check` reports these next to schema errors.
 */
export function ruleIssues(rules: readonly unknown[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  rules.forEach((raw, i) => {
    if (raw === null || typeof raw !== 'object') return;
    const rule = raw as { name?: unknown; when?: unknown; action?: unknown; approvers?: unknown };
    if (typeof rule.when === 'string') {
      const result = compileCondition(rule.when);
      if (!result.ok) issues.push(...conditionIssues(i, rule.name, result.errors));
    }
    if (rule.action === 'review' && rule.approvers === undefined) issues.push(missingApprovers(i));
  });
  return issues;
}

// Review rules name their approvers explicitly: a default (say, the admins) would quietly make
// someone an approver for operations nobody thought about.
function missingApprovers(index: number): ConfigIssue {
  return { path: `rules[${index}].approvers`, message: 'a review rule needs approvers: { groups: [...], count: N }' };
}

function conditionIssues(index: number, name: unknown, errors: readonly string[]): ConfigIssue[] {
  const which = typeof name === 'string' ? ` (rule '${name}')` : '';
  return errors.map((message) => ({ path: `rules[${index}].when`, message: `${message}${which}` }));
}

/** Throws ConfigError listing every rule that does not compile. */
export function compileRules(config: WardenConfig): CompiledRule[] {
  const issues: ConfigIssue[] = [];
  const compiled: CompiledRule[] = [];
  config.rules.forEach((rule, index) => {
    const result = compileCondition(rule.when);
    if (rule.action === 'review' && !rule.approvers) issues.push(missingApprovers(index));
    if (!result.ok) {
      issues.push(...conditionIssues(index, rule.name, result.errors));
      return;
    }
    compiled.push({
      index,
      name: rule.name,
      action: rule.action,
      message: rule.message,
      groups: rule.groups ? new Set(rule.groups) : null,
      connections: rule.connections ? new Set(rule.connections) : null,
      approvers: rule.approvers ? { groups: [...rule.approvers.groups], count: rule.approvers.count } : null,
      holdMs: rule.hold ? parseDuration(rule.hold) : 0,
      condition: result.condition,
    });
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return compiled;
}
