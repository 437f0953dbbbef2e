// A FIFO lock over the single PGlite backend: a client holds it from its first message until
// it is back at an idle ReadyForQuery, so transactions and extended-protocol sequences of
// different clients never interleave.
export class ExclusiveLock<Owner> {
  private holder: Owner | null = null;
  private readonly waiting: { owner: Owner; grant: () => void }[] = [];

  get owner(): Owner | null {
    return this.holder;
  }

  acquire(owner: Owner): Promise<void> {
    if (this.holder === owner) return Promise.resolve();
    if (this.holder === null) {
      this.holder = owner;
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiting.push({ owner, grant }));
  }

  release(owner: Owner): void {
    if (this.holder !== owner) return;
    const next = this.waiting.shift();
    this.holder = next ? next.owner : null;
    next?.grant();
  }
}
