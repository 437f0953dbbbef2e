// Revoked tokens and principals, kept in memory because every operation checks them. Refreshed
// from the store on an interval so a revocation made on another gateway instance takes effect
// within `refreshMs`; a revocation made here takes effect at once (add()).
//
// A principal is (issuer, sub): a subject revocation covers that issuer's subject only. Entries
// without an issuer (stored before issuers were recorded) cover any issuer. Token ids are unique
// per issuer, so a token revocation may name its issuer too; without one it covers any issuer's
// token with that id (fail closed: a collision revokes too much, never too little).
import { principalKey } from '../core/principal.js';
import type { Identity } from '../core/types.js';
import { issuerLookupKey } from '../identity/issuer-key.js';
import type { Store } from '../store/index.js';

/** Key for "any issuer" (issuer keys are never empty: issuers are non-empty URLs or names). */
const ANY = '';

export interface RevocationEntry {
  tokenId?: string;
  sub?: string;
  /** Absent: any issuer. */
  issuer?: string;
}

export class RevocationCache {
  private tokenIds = new Set<string>();
  private subjects = new Set<string>();
  /** Identities are built once per token and not changed after: their lookup keys, made on first ask. */
  private readonly keysOf = new WeakMap<Identity, LookupKeys>();
  private timer: NodeJS.Timeout | null = null;
  /** Entries added locally since the refresh now running began: a refresh must not drop them. */
  private pending: RevocationEntry[] = [];
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly refreshMs = 2000,
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch(() => {
        // Keep the last known set; the next refresh tries again.
      });
    }, this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One refresh at a time: an interval tick during a slow store read joins it. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    this.pending = [];
    const rows = await this.store.listRevocations({ limit: null });
    const tokenIds = new Set<string>();
    const subjects = new Set<string>();
    for (const r of rows) {
      const k = key(r.issuer, r.value);
      if (r.kind === 'token') tokenIds.add(k);
      else subjects.add(k);
    }
    // Revocations only ever grow: what add() marked while the store was being read stays marked.
    for (const e of this.pending) addTo(tokenIds, subjects, e);
    this.pending = [];
    this.tokenIds = tokenIds;
    this.subjects = subjects;
  }

  /** Mark locally at once (the store write is the caller's). */
  add(entry: RevocationEntry): void {
    addTo(this.tokenIds, this.subjects, entry);
    this.pending.push(entry);
  }

  /** Asked on every operation: nothing to look up while nothing is revoked, and each identity's keys are built once. */
  isRevoked(identity: Identity): boolean {
    if (this.tokenIds.size === 0 && this.subjects.size === 0) return false;
    let keys = this.keysOf.get(identity);
    if (keys === undefined) {
      keys = lookupKeys(identity);
      this.keysOf.set(identity, keys);
    }
    if (keys.token !== null && (this.tokenIds.has(keys.token) || this.tokenIds.has(keys.anyToken!))) return true;
    return this.subjects.has(keys.sub) || this.subjects.has(keys.anySub);
  }
}

interface LookupKeys {
  token: string | null;
  anyToken: string | null;
  sub: string;
  anySub: string;
}

function lookupKeys(identity: Identity): LookupKeys {
  const issuer = issuerLookupKey(identity.issuer);
  const tokenId = identity.tokenId;
  return {
    token: tokenId === undefined ? null : principalKey({ issuer, sub: tokenId }),
    anyToken: tokenId === undefined ? null : principalKey({ issuer: ANY, sub: tokenId }),
    sub: principalKey({ issuer, sub: identity.sub }),
    anySub: principalKey({ issuer: ANY, sub: identity.sub }),
  };
}

/** The principal key with the issuer in its lookup spelling (a revocation may be typed in another). */
function key(issuer: string | undefined, value: string): string {
  return principalKey({ issuer: issuer ? issuerLookupKey(issuer) : ANY, sub: value });
}

function addTo(tokenIds: Set<string>, subjects: Set<string>, e: RevocationEntry): void {
  if (e.tokenId !== undefined) tokenIds.add(key(e.issuer, e.tokenId));
  if (e.sub !== undefined) subjects.add(key(e.issuer, e.sub));
}
