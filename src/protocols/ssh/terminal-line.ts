// The command line being typed in a pty shell, read off a headless terminal emulator fed with
// what the host echoes (best effort, as DESIGN.md §8 says): the prompt is what the cursor's line
// held when typing began, the line is the logical line (wrapped rows joined) after it.
import xterm from '@xterm/headless';

export class TerminalLine {
  private readonly term: InstanceType<typeof xterm.Terminal>;
  private pending = 0;
  private idle: (() => void)[] = [];
  /** Where the current line began: absolute row of its first row, and the prompt before it. */
  private start: { row: number; prompt: string } | null = null;

  constructor(cols: number, rows: number) {
    this.term = new xterm.Terminal({
      cols: Math.max(cols, 20),
      rows: Math.max(rows, 2),
      allowProposedApi: true,
      scrollback: 200,
    });
  }

  /** Host output, as the client sees it. */
  write(data: string): void {
    this.pending++;
    this.term.write(data, () => {
      this.pending--;
      if (this.pending === 0) for (const f of this.idle.splice(0)) f();
    });
  }

  /** Resolves once everything written so far has been parsed. */
  settled(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((r) => this.idle.push(r));
  }

  resize(cols: number, rows: number): void {
    this.term.resize(Math.max(cols, 20), Math.max(rows, 2));
  }

  /** The client is about to type the first key of a line: remember the prompt. */
  beginLine(): void {
    if (this.start) return;
    const b = this.term.buffer.active;
    const row = this.logicalStart(b.baseY + b.cursorY);
    this.start = { row, prompt: this.logicalText(row).slice(0, this.offsetOfCursor(row)) };
  }

  /** The line typed since beginLine(), without the prompt; then a new line begins. */
  takeLine(): string {
    const b = this.term.buffer.active;
    const row = this.start?.row ?? this.logicalStart(b.baseY + b.cursorY);
    const text = this.logicalText(row);
    const prompt = this.start?.prompt ?? '';
    this.start = null;
    return (text.startsWith(prompt) ? text.slice(prompt.length) : text).trim();
  }

  dispose(): void {
    this.term.dispose();
  }

  private logicalStart(row: number): number {
    const b = this.term.buffer.active;
    let r = row;
    while (r > 0 && b.getLine(r)?.isWrapped) r--;
    return r;
  }

  private logicalText(row: number): string {
    const b = this.term.buffer.active;
    let text = b.getLine(row)?.translateToString(false) ?? '';
    for (let r = row + 1; b.getLine(r)?.isWrapped; r++) text += b.getLine(r)!.translateToString(false);
    return text.trimEnd();
  }

  private offsetOfCursor(row: number): number {
    const b = this.term.buffer.active;
    return (b.baseY + b.cursorY - row) * this.term.cols + b.cursorX;
  }
}
