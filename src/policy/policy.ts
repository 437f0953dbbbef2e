// The policy engine: access grants (default deny), rules (CEL, most restrictive wins) and the
// masking plan, compiled once from the config and evaluated per operation.
import { isCelError } from '@bufbuild/cel';
import type { RuleConfig, WardenConfig } from '../config/schema.js';
import type {
  Decision,
  DetectorName,
  Effect,
  Identity,
  MaskPlan,
  Operation,
  Reason,
  ReviewRequirement,
} from '../core/types.js';
import { Activation } from './activation.js';
import { maskedCatalogProblem, withMaskedOutputs } from './catalog-guard.js';
import { type CompiledRule, compileRules } from './compile.js';

export interface AccessResult {
  granted: boolean;
  /** The grant came from a `jit: true` entry; when not granted: the identity could request JIT access. */
  jit: boolean;
  /** Which entry granted it, e.g. `access[1]`. */
  via?: string;
  reason: Reason;
}

export interface DecideOptions {
  /** Connection names for which this identity holds an active (approved, unexpired) JIT grant. */
  jitGrants?: readonly string[];
}

interface AccessEntry {
  index: number;
  groups: ReadonlySet<string>;
  jit: boolean;
}

interface MaskEntry {
  groups: ReadonlySet<string> | null;
  unmaskedFor: ReadonlySet<string>;
  columns: readonly string[];
  detect: readonly DetectorName[];
}

const RANK: Record<Effect, number> = { allow: 0, mask: 1, review: 2, block: 3 };
const ALL_DETECTORS: readonly DetectorName[] = ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'];
const PLAN_CACHE_LIMIT = 1024;

function hasAny(groups: readonly string[], set: ReadonlySet<string>): boolean {
  for (const g of groups) if (set.has(g)) return true;
  return false;
}

function pushTo<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export class Policy {
  private readonly rules: readonly CompiledRule[];
  private readonly accessByConnection = new Map<string, AccessEntry[]>();
  /** Rules in scope per connection name, in config order; `unscopedRules` for names not in the config. */
  private readonly rulesByConnection = new Map<string, CompiledRule[]>();
  private readonly unscopedRules: CompiledRule[];
  private readonly maskingByConnection = new Map<string, MaskEntry[]>();
  private readonly planCache = new Map<string, MaskPlan | null>();
  private readonly activation: Activation;
  private readonly ruleConfigs = new Map<string, RuleConfig>();

  /** Compiles every rule; throws ConfigError (WARDEN_CONFIG_INVALID) naming each rule that does not compile. */
  constructor(config: WardenConfig) {
    this.rules = compileRules(config);
    this.activation = new Activation(this.rules.some((r) => r.condition.variables.has('now')));
    for (const r of config.rules) this.ruleConfigs.set(r.name, r);

    config.access.forEach((entry, index) => {
      const compiled: AccessEntry = { index, groups: new Set(entry.groups), jit: entry.jit };
      for (const name of new Set(entry.connections)) pushTo(this.accessByConnection, name, compiled);
    });

    const names = new Set<string>(Object.keys(config.connections));
    for (const r of this.rules) for (const c of r.connections ?? []) names.add(c);
    for (const name of names) {
      this.rulesByConnection.set(
        name,
        this.rules.filter((r) => r.connections === null || r.connections.has(name)),
      );
    }
    this.unscopedRules = this.rules.filter((r) => r.connections === null);

    for (const m of config.masking) {
      const entry: MaskEntry = {
        groups: m.groups ? new Set(m.groups) : null,
        unmaskedFor: new Set(m.unmaskedFor),
        columns: m.columns.map((c) => c.toLowerCase()),
        detect: m.detect,
      };
      for (const name of new Set(m.connections)) pushTo(this.maskingByConnection, name, entry);
    }
  }

  /** A rule's configuration by name (approvals read `uses` and `approvalTtl` from it). */
  rule(name: string): RuleConfig | undefined {
    return this.ruleConfigs.get(name);
  }

  /** Rule names in config order. */
  get ruleNames(): string[] {
    return this.rules.map((r) => r.name);
  }

  /**
   * Does `identity` have access to `connectionName`? Default deny. A standing entry wins over a JIT
   * one; a `jit: true` entry grants only while `opts.jitGrants` lists the connection.
   */
  access(identity: Identity, connectionName: string, opts?: DecideOptions): AccessResult {
    const entries = this.accessByConnection.get(connectionName);
    let jitEntry: AccessEntry | undefined;
    if (entries) {
      for (const e of entries) {
        if (!hasAny(identity.groups, e.groups)) continue;
        if (!e.jit) {
          const via = `access[${e.index}]`;
          return {
            granted: true,
            jit: false,
            via,
            reason: { code: 'access-granted', message: `standing access to '${connectionName}' (${via})` },
          };
        }
        jitEntry ??= e;
      }
    }
    if (jitEntry) {
      const via = `access[${jitEntry.index}]`;
      if (opts?.jitGrants?.includes(connectionName)) {
        return {
          granted: true,
          jit: true,
          via,
          reason: { code: 'jit-grant', message: `just-in-time access to '${connectionName}' (${via})` },
        };
      }
      return {
        granted: false,
        jit: true,
        via,
        reason: {
          code: 'no-access-grant',
          message: `no active just-in-time grant for '${connectionName}'; request one (warden access request ${connectionName})`,
        },
      };
    }
    return {
      granted: false,
      jit: false,
      reason: { code: 'no-access-grant', message: `no access grant for '${connectionName}'` },
    };
  }

  /**
   * The decision for one operation: access first (no grant → block), then every rule in scope;
   * block > review > mask > allow. A rule that cannot be evaluated blocks (fail closed).
   */
  decide(op: Operation, opts?: DecideOptions): Decision {
    const identity = op.identity;
    const connection = op.connection.name;
    const access = this.access(identity, connection, opts);
    if (!access.granted) return { effect: 'block', rules: [], reasons: [access.reason], masking: null, review: null };
    // The identity's masking, looked up once: lineage needs it for op.sql.maskedOutputs.
    const plan = op.kind === 'sql' ? this.maskPlan(identity, connection) : undefined;
    if (plan !== undefined && op.kind === 'sql') withMaskedOutputs(op, plan);

    const candidates = this.rulesByConnection.get(connection) ?? this.unscopedRules;
    const matched: string[] = [];
    const reasons: Reason[] = [access.reason];
    let effect: Effect = 'allow';
    let review: ReviewRequirement | null = null;
    let forceMask = false;
    let fastLoaded = false;
    let celLoaded = false;

    for (let i = 0; i < candidates.length; i++) {
      const rule = candidates[i] as CompiledRule;
      if (rule.groups !== null && !hasAny(identity.groups, rule.groups)) continue;
      let result: unknown;
      const fast = rule.condition.fast;
      if (fast !== null) {
        if (!fastLoaded) {
          this.activation.loadFast(op);
          fastLoaded = true;
        }
        try {
          result = fast(this.activation.fast);
        } catch {
          // BAIL (or anything unexpected): the reference evaluator decides.
          result = undefined;
        }
      }
      if (result === undefined) {
        if (!celLoaded) {
          this.activation.load(op);
          celLoaded = true;
        }
        try {
          result = rule.condition.program(this.activation.vars);
        } catch (e) {
          result = e instanceof Error ? e : new Error(String(e));
        }
      }
      if (result === false) continue;
      if (result !== true) {
        // Errors and non-boolean results both mean "cannot tell": refuse.
        const why = isCelError(result) || result instanceof Error ? result.message : `result is not a boolean`;
        matched.push(rule.name);
        reasons.push({
          code: 'policy-error',
          rule: rule.name,
          message: `rule '${rule.name}' could not be evaluated: ${why}`,
        });
        effect = 'block';
        continue;
      }
      matched.push(rule.name);
      reasons.push({
        code: 'rule-matched',
        rule: rule.name,
        message: rule.message ?? `rule '${rule.name}' matched (${rule.action})`,
      });
      if (RANK[rule.action] > RANK[effect]) effect = rule.action;
      if (rule.action === 'mask') forceMask = true;
      if (rule.action === 'review') review = strictestReview(review, rule);
    }

    let masking: MaskPlan | null = null;
    if (effect !== 'block') {
      masking = forceMask
        ? this.forcedMaskPlan(identity, connection)
        : plan !== undefined
          ? plan
          : this.maskPlan(identity, connection);
      if (masking !== null) {
        const problem = op.kind === 'sql' ? maskedCatalogProblem(op.text, op.sql, masking) : null;
        if (problem !== null) {
          // Masking finds columns by source; these forms of other sessions' SQL text have none.
          return {
            effect: 'block',
            rules: matched,
            reasons: [...reasons, { code: 'session-guard', effect: 'block', message: problem }],
            masking: null,
            review: null,
          };
        }
        if (effect === 'allow') effect = 'mask';
        reasons.push({ code: 'masking-applies', message: `masking ${describeMasking(masking)}` });
      }
    }
    return { effect, rules: matched, reasons, masking, review: effect === 'review' ? review : null };
  }

  /**
   * What to mask for `identity` on `connection`: every `masking[]` entry for the connection whose
   * `groups` include the identity (omitted = everyone), unless the identity is in its `unmaskedFor`.
   * null when nothing is masked.
   */
  maskPlan(identity: Identity, connection: string): MaskPlan | null {
    const entries = this.maskingByConnection.get(connection);
    if (!entries) return null;
    const key = `${connection}\u0000${identity.groups.join('\u0000')}`;
    const cached = this.planCache.get(key);
    if (cached !== undefined) return cached;
    const plan = buildPlan(entries.filter((e) => appliesTo(e, identity) && !hasAny(identity.groups, e.unmaskedFor)));
    if (this.planCache.size >= PLAN_CACHE_LIMIT) this.planCache.clear();
    this.planCache.set(key, plan);
    return plan;
  }

  /**
   * A matched `mask` rule overrides `unmaskedFor`: the rule author asked for masking on this
   * operation. With no masking entry for the connection, every content detector applies.
   */
  private forcedMaskPlan(identity: Identity, connection: string): MaskPlan {
    const entries = (this.maskingByConnection.get(connection) ?? []).filter((e) => appliesTo(e, identity));
    return buildPlan(entries) ?? Object.freeze({ columns: [], detect: [...ALL_DETECTORS] });
  }

  /** Human-readable lines: the effect, then why. */
  explain(decision: Decision): string {
    const lines = [`effect: ${decision.effect}`];
    for (const r of decision.reasons) lines.push(`  ${r.code}${r.rule ? ` [${r.rule}]` : ''}: ${r.message}`);
    if (decision.rules.length > 0) lines.push(`rules matched: ${decision.rules.join(', ')}`);
    if (decision.review) {
      const { count, groups, holdMs } = decision.review;
      const hold = holdMs > 0 ? `held up to ${holdMs / 1000}s` : 'refused until approved';
      lines.push(`review: ${count} approval(s) from ${groups.join(' or ')}; ${hold}`);
    }
    if (decision.masking) lines.push(`masking: ${describeMasking(decision.masking)}`);
    return lines.join('\n');
  }
}

function appliesTo(entry: MaskEntry, identity: Identity): boolean {
  return entry.groups === null || hasAny(identity.groups, entry.groups);
}

function buildPlan(entries: readonly MaskEntry[]): MaskPlan | null {
  const columns = new Set<string>();
  const detect = new Set<DetectorName>();
  for (const e of entries) {
    for (const c of e.columns) columns.add(c);
    for (const d of e.detect) detect.add(d);
  }
  if (columns.size === 0 && detect.size === 0) return null;
  return Object.freeze({ columns: [...columns], detect: [...detect] });
}

/**
 * Several review rules matched: the most approvals any of them asks for, from any group any of
 * them names (union), held as long as the longest hold.
 */
function strictestReview(current: ReviewRequirement | null, rule: CompiledRule): ReviewRequirement {
  const groups = rule.approvers?.groups ?? [];
  const count = rule.approvers?.count ?? 1;
  if (current === null) return { groups: [...groups], count, holdMs: rule.holdMs };
  return {
    groups: [...new Set([...current.groups, ...groups])],
    count: Math.max(current.count, count),
    holdMs: Math.max(current.holdMs, rule.holdMs),
  };
}

/** Plans are frozen and cached per identity's groups, so each one's text is made once (it is in
 * every masked decision's reasons). */
const maskingTexts = new WeakMap<MaskPlan, string>();

function describeMasking(plan: MaskPlan): string {
  let text = maskingTexts.get(plan);
  if (text !== undefined) return text;
  const parts: string[] = [];
  if (plan.columns.length > 0) parts.push(`columns ${plan.columns.join(', ')}`);
  if (plan.detect.length > 0) parts.push(`detectors ${plan.detect.join(', ')}`);
  text = parts.join('; ');
  if (Object.isFrozen(plan)) maskingTexts.set(plan, text);
  return text;
}
