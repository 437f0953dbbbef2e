// Groups from the issuer's configured claim. A plain name is looked up first; otherwise a dotted
// path (`realm_access.roles` for Keycloak). A claim of the wrong shape fails the token rather
// than dropping groups, because a dropped group can switch off a rule scoped to it.
export type GroupsResult = { ok: true; groups: string[] } | { ok: false; problem: string };

export function groupsFromClaims(claims: Record<string, unknown>, claim: string): GroupsResult {
  const value = Object.hasOwn(claims, claim) ? claims[claim] : lookupPath(claims, claim);
  if (value === undefined || value === null) return { ok: true, groups: [] };
  if (typeof value === 'string') return { ok: true, groups: value === '' ? [] : [value] };
  if (Array.isArray(value) && value.every((g) => typeof g === 'string')) {
    return { ok: true, groups: [...new Set(value as string[])] };
  }
  return { ok: false, problem: `claim '${claim}' is neither a string nor a list of strings` };
}

function lookupPath(claims: Record<string, unknown>, path: string): unknown {
  let node: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
