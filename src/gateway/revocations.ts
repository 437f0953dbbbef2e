// Revoked tokens and subjects, kept in memory because every operation checks them. Refreshed from
// the store on an interval so a revocation made on another gateway instance takes effect within
// `refreshMs`; a revocation made here takes effect at once.
import type { Identity } from '../core/types.js';
import type { Store } from '../store/index.js';

export class RevocationCache {
  private tokenIds = new Set<string>();
  private subjects = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

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

  async refresh(): Promise<void> {
    const rows = await this.store.listRevocations();
    const tokenIds = new Set<string>();
    const subjects = new Set<string>();
    for (const r of rows) {
      if (r.kind === 'token') tokenIds.add(r.value);
      else subjects.add(r.value);
    }
    this.tokenIds = tokenIds;
    this.subjects = subjects;
  }

  /** Mark locally at once (the store write is the caller's). */
  add(entry: { tokenId?: string; sub?: string }): void {
    if (entry.tokenId) this.tokenIds.add(entry.tokenId);
    if (entry.sub) this.subjects.add(entry.sub);
  }

  isRevoked(identity: Identity): boolean {
    return (identity.tokenId !== undefined && this.tokenIds.has(identity.tokenId)) || this.subjects.has(identity.sub);
  }
}
