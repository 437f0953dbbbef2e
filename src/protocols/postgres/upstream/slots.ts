// How many upstream connections the gateway holds per target, for `connections.<name>.maxUpstream`:
// sessions beyond it are refused before an upstream connection is even attempted, so the target's
// own max_connections keeps room for others (the DBA).
export class UpstreamSlots {
  private readonly held = new Map<string, number>();

  /** Take a slot for `target`: a release function (idempotent), or null when `max` are held. No max: always. */
  reserve(target: string, max: number | undefined): (() => void) | null {
    const n = this.held.get(target) ?? 0;
    if (max !== undefined && n >= max) return null;
    this.held.set(target, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(target) ?? 1) - 1;
      if (left <= 0) this.held.delete(target);
      else this.held.set(target, left);
    };
  }

  /** Slots held for `target`. */
  count(target: string): number {
    return this.held.get(target) ?? 0;
  }
}
