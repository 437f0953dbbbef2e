// Shell command lines (SSH exec, terminal lines) → argv. Operators (`;`, `|`, `&&`, `>`, `(`)
// stay as argv entries of their own, so rules can see that a line chains several commands.
import { parse } from 'shell-quote';
import type { CommandFacts } from '../core/types.js';

/** Keeps `$NAME` as written instead of expanding it to '' (shell-quote's default). */
const keepVariable = (name: string): string => '$' + name;

export function analyzeCommand(text: string): CommandFacts {
  if (typeof text !== 'string') throw new TypeError('analyzeCommand: text must be a string');
  const argv: string[] = [];
  for (const entry of parse(text, keepVariable)) {
    if (typeof entry === 'string') argv.push(entry);
    else if ('op' in entry) argv.push(entry.op === 'glob' ? entry.pattern : entry.op);
    // `# comments` are not run: dropped.
  }
  return { text, argv };
}
