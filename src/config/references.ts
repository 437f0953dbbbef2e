// `${env:NAME}` and `${file:PATH}` references, resolved once at load so the gateway alone holds
// target credentials. Errors name the reference and where it is, never a resolved value.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ConfigIssue, formatPath } from './errors.js';

const REFERENCE = /\$\{([a-z]+):([^}]*)\}/g;

export interface ReferenceContext {
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** Top-level keys whose references are resolved (default: all). A reference elsewhere becomes
   * '' and is not an issue: commands that need part of the config (e.g. `warden token`) do not
   * need every connection's secret set. */
  only?: readonly string[];
}

/** Returns a copy of `raw` with every reference in a string value replaced; problems go to `issues`. */
export function resolveReferences(raw: unknown, ctx: ReferenceContext, issues: ConfigIssue[]): unknown {
  return walk(raw, [], ctx, issues);
}

function walk(value: unknown, path: (string | number)[], ctx: ReferenceContext, issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') return resolveString(value, path, ctx, issues);
  if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i], ctx, issues));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = walk(item, [...path, key], ctx, issues);
    return out;
  }
  return value;
}

function resolveString(text: string, path: (string | number)[], ctx: ReferenceContext, issues: ConfigIssue[]): string {
  if (!text.includes('${')) return text;
  if (ctx.only !== undefined && !ctx.only.includes(String(path[0]))) return text.replace(REFERENCE, '');
  return text.replace(REFERENCE, (ref: string, scheme: string, arg: string) => {
    const name = arg.trim();
    if (scheme === 'env') {
      const v = name === '' ? undefined : ctx.env[name];
      if (v === undefined) {
        issues.push({
          path: formatPath(path),
          message: `${ref}: environment variable ${name || '(empty)'} is not set`,
        });
        return '';
      }
      return v;
    }
    if (scheme === 'file') {
      if (name === '') {
        issues.push({ path: formatPath(path), message: `${ref}: no file path given` });
        return '';
      }
      try {
        // One trailing newline is how secret files are usually written; it is not part of the secret.
        return readFileSync(resolve(ctx.baseDir, name), 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'error';
        issues.push({ path: formatPath(path), message: `${ref}: cannot read file (${code})` });
        return '';
      }
    }
    issues.push({ path: formatPath(path), message: `${ref}: unknown reference type '${scheme}' (use env: or file:)` });
    return '';
  });
}
