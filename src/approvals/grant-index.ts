// In-memory index of approved JIT grants, read synchronously on every operation. It is rebuilt
// from the store every refresh (so grants approved or revoked on another gateway instance show
// up within one interval) and patched at once on local changes. Expiry is checked against the
// clock at lookup time, so a grant that ends mid-session is gone at the next operation.
// Keyed by principal (issuer, sub): a grant approved for `oc-1` of one issuer is nothing to
// `oc-1` of another. Grants stored without an issuer (before 0003) match no identity.
import { type Principal, principalKey, UNKNOWN_ISSUER } from '../core/principal.js';
import type { AccessRequest } from '../store/index.js';

interface Grant {
  id: string;
  connection: string;
  expiresAt: number;
}

type Change = { add: AccessRequest } | { remove: string };

export class GrantIndex {
  private byPrincipal = new Map<string, Grant[]>();
  /** Local changes made while a rebuild is reading the store; re-applied on top of it. */
  private duringRebuild: Change[] | null = null;

  /** Connections this principal holds an unexpired grant for at `now`. */
  connections(who: Principal, now: number): string[] {
    if (who.issuer === UNKNOWN_ISSUER) return [];
    const grants = this.byPrincipal.get(principalKey(who));
    if (!grants) return [];
    const out: string[] = [];
    for (const g of grants) if (g.expiresAt > now && !out.includes(g.connection)) out.push(g.connection);
    return out;
  }

  add(request: AccessRequest): void {
    this.duringRebuild?.push({ add: request });
    this.apply({ add: request });
  }

  remove(id: string): void {
    this.duringRebuild?.push({ remove: id });
    this.apply({ remove: id });
  }

  /** Replaces the index with `load()`'s approved grants, keeping local changes made meanwhile. */
  async rebuild(load: () => Promise<AccessRequest[]>): Promise<void> {
    this.duringRebuild = [];
    try {
      const approved = await load();
      const changes = this.duringRebuild;
      this.byPrincipal = new Map();
      for (const r of approved) if (r.state === 'approved') this.apply({ add: r });
      for (const c of changes) this.apply(c);
    } finally {
      this.duringRebuild = null;
    }
  }

  private apply(change: Change): void {
    if ('remove' in change) {
      for (const [key, grants] of this.byPrincipal) {
        const kept = grants.filter((g) => g.id !== change.remove);
        if (kept.length === 0) this.byPrincipal.delete(key);
        else if (kept.length !== grants.length) this.byPrincipal.set(key, kept);
      }
      return;
    }
    const r = change.add;
    if (r.issuer === UNKNOWN_ISSUER) return;
    const key = principalKey(r);
    const grants = (this.byPrincipal.get(key) ?? []).filter((g) => g.id !== r.id);
    grants.push({ id: r.id, connection: r.connection, expiresAt: r.expiresAt });
    this.byPrincipal.set(key, grants);
  }
}
