// YAML with positions: the document is kept so an issue's path can be mapped back to its line.
import { type Document, isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { ConfigIssue } from './errors.js';

export interface ParsedYaml {
  value: unknown;
  /** 1-based line of the node at `path` (or of its nearest ancestor that exists). */
  lineOf(path: readonly (string | number)[], key?: string): number | undefined;
}

export function parseYaml(text: string, issues: ConfigIssue[]): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  for (const err of doc.errors) {
    issues.push({
      path: '',
      message: `YAML: ${err.message.split('\n')[0]}`,
      line: lineCounter.linePos(err.pos[0]).line,
    });
  }
  const value = doc.errors.length > 0 ? null : doc.toJS({ maxAliasCount: 100 });
  return {
    value,
    lineOf: (path, key) => lineOf(doc, lineCounter, path, key),
  };
}

function lineOf(
  doc: Document,
  lines: LineCounter,
  path: readonly (string | number)[],
  key: string | undefined,
): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (!node?.range) continue;
    // An unknown key: point at the key itself, not at the object holding it.
    if (key !== undefined && n === path.length && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      const at = (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
      if (at !== undefined) return lines.linePos(at).line;
    }
    return lines.linePos(node.range[0]).line;
  }
  return undefined;
}
