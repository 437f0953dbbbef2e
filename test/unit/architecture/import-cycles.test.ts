// No runtime import cycles in src/: a cycle makes module start-up order matter (a module sees
// another's exports as undefined) and ties the core to its callers. Type-only imports are erased
// at compile time and do not count.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// `import … from './x.js'` and `export … from './x.js'`, except `import type` / `export type`.
const IMPORT = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"](\.[^'"]+)['"]/gm;
const SIDE_EFFECT = /^\s*import\s+['"](\.[^'"]+)['"]/gm;

/** Runtime imports of one file (relative ones, resolved to .ts paths). */
export function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const add = (spec: string) => out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  for (const m of text.matchAll(IMPORT)) {
    if (m[2]) continue; // import type / export type
    const clause = m[3] ?? '';
    // `import { type A, type B } from` is erased too.
    const braces = /^\{([^}]*)\}$/.exec(clause.trim());
    if (braces && braces[1]!.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) continue;
    add(m[4]!);
  }
  for (const m of text.matchAll(SIDE_EFFECT)) add(m[1]!);
  return out;
}

function findCycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, runtimeImports(f).filter((d) => graphHas(files, d))]));
  const cycles: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 1);
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 1) cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

function graphHas(files: string[], f: string): boolean {
  return files.includes(f);
}

describe('architecture', () => {
  it('src/ has no runtime import cycle', () => {
    const cycles = findCycles(sources(SRC)).map((c) => c.map((f) => relative(SRC, f)).join(' → '));
    assert.deepEqual(cycles, [], `runtime import cycles:\n${cycles.join('\n')}`);
  });
});
