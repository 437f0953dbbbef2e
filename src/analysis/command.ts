// Shell command lines (SSH exec, terminal lines) → facts, from a real shell parser (mvdan/sh,
// the parser behind shfmt, as JavaScript: synchronous, ~1 ms a line). DESIGN.md §8:
//  - `argv`: the words of the first simple command, quoting and escapes resolved (a word whose
//    value is only known at run time stays as written);
//  - `programs`: every program the line runs, by base name, through lists, pipelines, compound
//    commands, functions, subshells, `$(…)`, backticks, process substitution, and through the
//    commands that run their arguments as a command (./command-wrappers.ts); a name known only at
//    run time adds `*`;
//  - `parsed`: false when the parser refuses the line (then `programs` is `['*']`: fail closed).
import type { CommandFacts } from '../core/types.js';
import { literalWord, type ShNode, wordSource } from './command-words.js';
import { type WordValue, wrapperRuns } from './command-wrappers.js';
import { shSyntax } from './sh-syntax.js';

type ShParser = ReturnType<ReturnType<typeof shSyntax>['NewParser']>;
/** Made at the first command analysed (loading the shell parser; see sh-syntax.ts). */
let parser: ShParser | undefined;

/** Unknown at analysis time: the program is chosen at run time. */
export const UNKNOWN_PROGRAM = '*';
/** `bash -c "bash -c '…'"` nesting past this is not followed: the inner line counts as unknown. */
const MAX_DEPTH = 8;
/** Longer lines are not parsed (parsed: false). */
const MAX_TEXT = 64 * 1024;

export function analyzeCommand(text: string): CommandFacts {
  if (typeof text !== 'string') throw new TypeError('analyzeCommand: text must be a string');
  const programs = new Set<string>();
  const file = parseScript(text);
  if (file === null) return { text, argv: [], programs: [UNKNOWN_PROGRAM], parsed: false };
  const argv: string[] = [];
  let first = true;
  const ok = collectPrograms(file, text, programs, 0, (call) => {
    if (!first || call.Args.length === 0) return;
    first = false;
    for (const w of call.Args) argv.push(literalWord(w) ?? wordSource(w, text));
  });
  if (!ok) return { text, argv, programs: [UNKNOWN_PROGRAM], parsed: false };
  return { text, argv, programs: [...programs], parsed: true };
}

function parseScript(text: string): ShNode | null {
  if (text.length > MAX_TEXT) return null;
  try {
    if (parser === undefined) {
      const syntax = shSyntax();
      parser = syntax.NewParser(syntax.KeepComments(false), syntax.Variant(syntax.LangBash));
    }
    return parser.Parse(text, '') as ShNode;
  } catch {
    return null;
  }
}

/** Walks a parsed script; false when a nested script (`sh -c '…'`, `eval`) does not parse. */
function collectPrograms(
  file: ShNode,
  text: string,
  out: Set<string>,
  depth: number,
  onCall?: (call: ShNode) => void,
): boolean {
  let ok = true;
  const syntax = shSyntax();
  syntax.Walk(file, (node: ShNode | null) => {
    if (!node || !ok) return ok;
    if (syntax.NodeType(node) !== 'CallExpr') return true;
    onCall?.(node);
    const words = node.Args as ShNode[];
    // Assignments only (`a=$(rm x)`): their substitutions are walked as children.
    if (words.length > 0 && !addCall(words, text, out, depth)) ok = false;
    return true;
  });
  return ok;
}

/** One simple command: its program and those of the commands it runs. */
function addCall(words: readonly ShNode[], _text: string, out: Set<string>, depth: number): boolean {
  return addWords(
    words.map((w) => literalWord(w)),
    out,
    depth,
  );
}

function addWords(values: readonly WordValue[], out: Set<string>, depth: number): boolean {
  const name = values[0];
  if (name === undefined) return true;
  if (name === null) {
    out.add(UNKNOWN_PROGRAM);
    return true;
  }
  const base = baseName(name);
  out.add(base);
  if (depth >= MAX_DEPTH) {
    out.add(UNKNOWN_PROGRAM);
    return true;
  }
  for (const run of wrapperRuns(base, values)) {
    if (run.kind === 'unknown' || (run.kind === 'script' && run.script === null)) out.add(UNKNOWN_PROGRAM);
    else if (run.kind === 'words') {
      if (!addWords(run.words, out, depth + 1)) return false;
    } else {
      const script = run.script as string;
      const inner = parseScript(script);
      if (inner === null) return false;
      if (!collectPrograms(inner, script, out, depth + 1)) return false;
    }
  }
  return true;
}

/** `/usr/bin/rm` → `rm`; a name the shell would glob (`r?`, `/bin/r*`) is unknown. */
function baseName(name: string): string {
  const slash = name.lastIndexOf('/');
  const base = slash === -1 ? name : name.slice(slash + 1);
  return base === '' ? UNKNOWN_PROGRAM : base;
}
