// Who may do what with a review or an access request, and which settings apply: pure functions
// over the config, so the rules read in one place and are unit-tested without a store.

import type { AccessConfig, WardenConfig } from '../config/schema.js';
import { parseDuration } from '../core/duration.js';
import { WardenError } from '../core/errors.js';
import { mayBeSamePrincipal, type Principal, samePrincipal } from '../core/principal.js';
import type { Approval, ApproversRequired } from '../store/index.js';

/** A pending review or access request lapses after this long without a decision. */
export const PENDING_TTL_MS = 24 * 60 * 60 * 1000;
/** JIT entries without `maxDuration` grant at most this long. */
export const DEFAULT_MAX_JIT_MS = 8 * 60 * 60 * 1000;

/** Why an approver was refused: a stable reason in the problem's detail. */
export type RefusalReason = 'self-approval' | 'not-approver' | 'already-approved' | 'not-approved';

/** The item left `pending` (approved, denied, expired, executed, revoked): 409, not a refusal of the approver. */
export function alreadyDecided(what: string, state: string): WardenError {
  return new WardenError('WARDEN_ALREADY_DECIDED', `${what} is already decided (${state})`, {
    detail: { reason: 'already-decided', state },
  });
}

interface Actor extends Principal {
  groups: readonly string[];
}

/** What the checks read of a review or access request. */
export interface DecidableItem {
  state: string;
  requester: Principal;
  approversRequired: ApproversRequired;
  approvals: Approval[];
}

export function inAnyGroup(groups: readonly string[], wanted: readonly string[]): boolean {
  return groups.some((g) => wanted.includes(g));
}

export function isAdmin(config: WardenConfig, who: Pick<Actor, 'groups'>): boolean {
  return inAnyGroup(who.groups, config.admins);
}

/** The admins approve whatever names no approver group (a rule or JIT entry without `approvers`). */
export function withDefaultApprovers(
  config: WardenConfig,
  required: ApproversRequired | null | undefined,
): ApproversRequired {
  if (required && required.groups.length > 0)
    return { groups: [...required.groups], count: Math.max(1, required.count) };
  return { groups: [...config.admins], count: Math.max(1, required?.count ?? 1) };
}

/**
 * Checks one approver against a pending item; throws WARDEN_ALREADY_DECIDED when it is no longer
 * pending, else WARDEN_REVIEW_FORBIDDEN with a stable `reason` in its detail. The requester never decides its own item, whatever its groups.
 * Principals compare as (issuer, sub), `sub` exactly: `dba-1` of issuer A and `dba-1` of issuer B
 * are two approvers, `dba-1` twice is one. A row whose issuer is unknown (stored before issuers
 * were recorded) counts as every issuer's same `sub` here, so it refuses rather than admits.
 * Callers check visibility first (mayView): an item the approver cannot see is "not found".
 */
export function assertMayDecide(what: string, item: DecidableItem, approver: Actor): void {
  const refuse = (reason: RefusalReason, message: string) => {
    throw new WardenError('WARDEN_REVIEW_FORBIDDEN', message, { detail: { reason, state: item.state } });
  };
  if (item.state !== 'pending') throw alreadyDecided(what, item.state);
  if (mayBeSamePrincipal(approver, item.requester))
    refuse('self-approval', `${what} was requested by you; another approver must decide it`);
  if (!inAnyGroup(approver.groups, item.approversRequired.groups)) {
    refuse('not-approver', `${what} needs an approver from ${item.approversRequired.groups.join(', ')}`);
  }
  if (item.approvals.some((a) => mayBeSamePrincipal(a, approver)))
    refuse('already-approved', `you already approved ${what}`);
}

/**
 * Visibility: your own items (same issuer and sub; an unknown issuer is nobody's), items you
 * may approve, or everything for admins.
 */
export function mayView(
  config: WardenConfig,
  viewer: Actor,
  item: Pick<DecidableItem, 'requester' | 'approversRequired'>,
): boolean {
  return (
    samePrincipal(item.requester, viewer) ||
    inAnyGroup(viewer.groups, item.approversRequired.groups) ||
    isAdmin(config, viewer)
  );
}

export interface ReviewSettings {
  uses: number;
  approvalTtlMs: number;
}

/**
 * Uses and approval TTL for a review: when several review rules matched, the strictest (fewest
 * uses, shortest TTL), like the policy takes the strictest approver requirement.
 */
export function reviewSettings(config: WardenConfig, ruleNames: readonly string[]): ReviewSettings {
  const matched = new Set(ruleNames);
  const rules = config.rules.filter((r) => r.action === 'review' && matched.has(r.name));
  if (rules.length === 0) return { uses: 1, approvalTtlMs: parseDuration('1h') };
  return {
    uses: Math.min(...rules.map((r) => r.uses)),
    approvalTtlMs: Math.min(...rules.map((r) => parseDuration(r.approvalTtl))),
  };
}

export interface JitTerms {
  entry: AccessConfig;
  maxDurationMs: number;
  approversRequired: ApproversRequired;
}

/**
 * The JIT entry that lets this identity request this connection, or null. Several may match:
 * the one allowing the longest grant wins, so a request is never capped below what is allowed.
 */
export function jitTerms(config: WardenConfig, groups: readonly string[], connection: string): JitTerms | null {
  let best: JitTerms | null = null;
  for (const entry of config.access) {
    if (!entry.jit || !entry.connections.includes(connection) || !inAnyGroup(groups, entry.groups)) continue;
    const maxDurationMs = entry.maxDuration ? parseDuration(entry.maxDuration) : DEFAULT_MAX_JIT_MS;
    if (!best || maxDurationMs > best.maxDurationMs) {
      best = { entry, maxDurationMs, approversRequired: withDefaultApprovers(config, entry.approvers) };
    }
  }
  return best;
}

/** Connection → groups whose JIT grants still count (hot path: activeGrants). */
export function jitGroupsByConnection(config: WardenConfig): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const entry of config.access) {
    if (!entry.jit) continue;
    for (const c of entry.connections) {
      const set = out.get(c) ?? new Set<string>();
      for (const g of entry.groups) set.add(g);
      out.set(c, set);
    }
  }
  return out;
}
