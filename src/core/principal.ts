// A principal is the pair (issuer, sub) (DESIGN.md §2): the same `sub` at two issuers is two
// different callers. `sub` compares exactly (case-sensitive, as OIDC defines it); the issuer is
// the configured issuer string the verifier put on the identity. Rows stored before issuers were
// recorded carry issuer '' (unknown).
import type { Identity } from './types.js';

export type Principal = Pick<Identity, 'issuer' | 'sub'>;

/** Stored for rows written before the issuer was recorded. */
export const UNKNOWN_ISSUER = '';

/** A map / set key for a principal. NUL cannot occur: the verifier refuses control characters in `sub`. */
export function principalKey(p: Principal): string {
  return `${p.issuer}\u0000${p.sub}`;
}

/** Only the pair, for storing or serializing (never the whole identity with its claims). */
export function principalOf(p: Principal): Principal {
  return { issuer: p.issuer, sub: p.sub };
}

/**
 * Same principal, for anything that grants (visibility, ownership, a JIT grant, an approved
 * review): both parts equal, and an unknown issuer never matches anyone.
 */
export function samePrincipal(a: Principal, b: Principal): boolean {
  return a.issuer !== UNKNOWN_ISSUER && a.issuer === b.issuer && a.sub === b.sub;
}

/**
 * Possibly the same principal, for anything that restricts (self-approval, "already approved"):
 * an unknown issuer matches every issuer's same `sub`, so a legacy row refuses rather than lets
 * through.
 */
export function mayBeSamePrincipal(a: Principal, b: Principal): boolean {
  if (a.sub !== b.sub) return false;
  return a.issuer === b.issuer || a.issuer === UNKNOWN_ISSUER || b.issuer === UNKNOWN_ISSUER;
}

/** `sub@issuer` for messages and logs; `sub@?` when the issuer is unknown. */
export function describePrincipal(p: Principal): string {
  return `${p.sub}@${p.issuer === UNKNOWN_ISSUER ? '?' : p.issuer}`;
}
