// The replacements found in one text. Detectors run in priority order (secrets first) and a
// later match that overlaps an earlier one is dropped, so one span is never redacted twice.
// One instance is reused per Masker: JS runs one maskText at a time, and the arrays only grow.

export class MatchSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly reps: string[] = [];
  private n = 0;
  private text = '';

  reset(text: string): void {
    this.n = 0;
    this.text = text;
  }

  get size(): number {
    return this.n;
  }

  /** True when `[start, end)` overlaps a match already taken. */
  overlaps(start: number, end: number): boolean {
    for (let i = 0; i < this.n; i++) {
      if (start < this.ends[i]! && end > this.starts[i]!) return true;
    }
    return false;
  }

  add(start: number, end: number, replacement: string): void {
    if (end <= start || this.overlaps(start, end)) return;
    // Already redacted (idempotence): nothing to change, and maskText can return the same string.
    if (end - start === replacement.length && this.text.startsWith(replacement, start)) return;
    const i = this.n++;
    this.starts[i] = start;
    this.ends[i] = end;
    this.reps[i] = replacement;
  }

  /** The text with every match replaced; the same string when there is none. */
  apply(): string {
    const n = this.n;
    const text = this.text;
    this.text = '';
    if (n === 0) return text;
    if (n > 1) this.sort();
    let out = '';
    let pos = 0;
    for (let i = 0; i < n; i++) {
      out += text.slice(pos, this.starts[i]) + this.reps[i];
      pos = this.ends[i]!;
    }
    return out + text.slice(pos);
  }

  /** Insertion sort by start: match counts per text are tiny. */
  private sort(): void {
    const { starts, ends, reps } = this;
    for (let i = 1; i < this.n; i++) {
      const s = starts[i]!;
      const e = ends[i]!;
      const r = reps[i]!;
      let j = i - 1;
      while (j >= 0 && starts[j]! > s) {
        starts[j + 1] = starts[j]!;
        ends[j + 1] = ends[j]!;
        reps[j + 1] = reps[j]!;
        j--;
      }
      starts[j + 1] = s;
      ends[j + 1] = e;
      reps[j + 1] = r;
    }
  }
}
