// The config's error: every problem found, each with the YAML path it is about, so `warden check`
// can list them all at once instead of making the user fix one and rerun.
import { WardenError } from '../core/errors.js';

export interface ConfigIssue {
  /** YAML path like `rules[2].when`, `connections.shop.port`, `access[0].connections[1]`; '' = whole file. */
  path: string;
  message: string;
  /** 1-based line in the config file, when known. */
  line?: number;
}

export class ConfigError extends WardenError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], options?: { cause?: unknown; file?: string }) {
    const where = options?.file ? ` (${options.file})` : '';
    super('WARDEN_CONFIG_INVALID', `the configuration is invalid${where}:\n${formatIssues(issues)}`, {
      cause: options?.cause,
      detail: { issues },
    });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const at = issue.line === undefined ? '' : ` (line ${issue.line})`;
  return issue.path === '' ? `${issue.message}${at}` : `${issue.path}: ${issue.message}${at}`;
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `  - ${formatIssue(i)}`).join('\n');
}

/** ['rules', 2, 'when'] → `rules[2].when`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** `rules[2].when` → ['rules', 2, 'when']. */
export function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[1] !== undefined) out.push(m[1]);
  }
  return out;
}
