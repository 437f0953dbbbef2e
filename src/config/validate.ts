// Schema validation plus the cross-checks a schema cannot express, all collected in one pass.
import type { z } from 'zod';
import { ruleIssues } from '../policy/index.js';
import { type ConfigIssue, formatPath, parsePath } from './errors.js';
import { configSchema, type WardenConfig } from './schema.js';

type Path = (string | number)[];

/** Validates `raw` (references already resolved). Returns the config only when there are no issues. */
export function validateConfig(
  raw: unknown,
  issues: ConfigIssue[],
  lineOf: (path: Path, key?: string) => number | undefined,
): WardenConfig | undefined {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    for (const issue of result.error.issues) issues.push(...fromZod(issue, lineOf));
  }
  for (const issue of crossCheck(raw)) {
    issues.push({ ...issue, line: lineOf(parsePath(issue.path)) });
  }
  return result.success && issues.length === 0 ? result.data : undefined;
}

function fromZod(issue: z.core.$ZodIssue, lineOf: (path: Path, key?: string) => number | undefined): ConfigIssue[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...path, key]),
      message: `unknown key '${key}'`,
      line: lineOf(path, key),
    }));
  }
  return [{ path: formatPath(path), message: issue.message, line: lineOf(path) }];
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Unknown connection names, duplicate rule names, masking that masks nothing, and rule compile errors. */
function crossCheck(raw: unknown): ConfigIssue[] {
  if (raw === null || typeof raw !== 'object') return [];
  const cfg = raw as Record<string, unknown>;
  const issues: ConfigIssue[] = [];
  const connections = cfg.connections !== null && typeof cfg.connections === 'object' ? cfg.connections : {};
  const known = new Set(Object.keys(connections));

  const checkRefs = (section: string, entries: unknown[]) => {
    entries.forEach((entry, i) => {
      if (entry === null || typeof entry !== 'object') return;
      asArray((entry as Record<string, unknown>).connections).forEach((name, j) => {
        if (typeof name === 'string' && !known.has(name)) {
          issues.push({ path: `${section}[${i}].connections[${j}]`, message: `unknown connection '${name}'` });
        }
      });
    });
  };
  const access = asArray(cfg.access);
  const rules = asArray(cfg.rules);
  const masking = asArray(cfg.masking);
  checkRefs('access', access);
  checkRefs('rules', rules);
  checkRefs('masking', masking);

  const firstIndex = new Map<string, number>();
  rules.forEach((rule, i) => {
    const name = (rule as Record<string, unknown> | null)?.name;
    if (typeof name !== 'string') return;
    const first = firstIndex.get(name);
    if (first === undefined) firstIndex.set(name, i);
    else issues.push({ path: `rules[${i}].name`, message: `duplicate rule name '${name}' (also rules[${first}])` });
  });

  masking.forEach((entry, i) => {
    const m = entry as Record<string, unknown> | null;
    if (m && asArray(m.columns).length === 0 && asArray(m.detect).length === 0) {
      issues.push({ path: `masking[${i}]`, message: 'masks nothing: give columns, detect or both' });
    }
  });

  issues.push(...ruleIssues(rules));
  return issues;
}
