// Reading warden.yaml: YAML → secret references → schema + cross-checks → paths made absolute.
// Every problem is collected and reported together (ConfigError.issues).
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { WardenError } from '../core/errors.js';
import { ConfigError, type ConfigIssue, parsePath } from './errors.js';
import { resolveConfigPaths } from './paths.js';
import { resolveReferences } from './references.js';
import { configSchema, type WardenConfig } from './schema.js';
import { validateConfig } from './validate.js';
import { parseYaml } from './yaml.js';

export interface LoadedConfig {
  /** Validated, references resolved, paths absolute. Holds secrets: print only `redactConfig(config)`. */
  config: WardenConfig;
  /** Folder relative paths were resolved against. */
  baseDir: string;
  /** The file it came from, when loaded from a file. */
  path?: string;
}

export interface ParseOptions {
  /** Folder of the config file: relative paths and `${file:…}` references are resolved against it. */
  baseDir: string;
  /** Environment for `${env:…}` references (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Resolve secret references only under these top-level keys (default: all). */
  secretsIn?: readonly string[];
}

/** Parses and validates config text. Throws ConfigError listing every issue. */
export function parseConfig(text: string, opts: ParseOptions): LoadedConfig {
  const baseDir = resolve(opts.baseDir);
  const issues: ConfigIssue[] = [];
  const yaml = parseYaml(text, issues);
  if (issues.length > 0) throw new ConfigError(issues);

  const refIssues: ConfigIssue[] = [];
  const raw = resolveReferences(
    yaml.value,
    { baseDir, env: opts.env ?? process.env, ...(opts.secretsIn ? { only: opts.secretsIn } : {}) },
    refIssues,
  );
  for (const issue of refIssues) issues.push({ ...issue, line: yaml.lineOf(parsePath(issue.path)) });

  const config = validateConfig(raw, issues, yaml.lineOf);
  if (config === undefined || issues.length > 0) throw new ConfigError(issues);
  return { config: resolveConfigPaths(config, baseDir), baseDir };
}

/** Reads and parses a config file. Throws WardenError WARDEN_CONFIG_UNREADABLE or ConfigError. */
export async function loadConfigFile(path: string, opts: Pick<ParseOptions, 'secretsIn'> = {}): Promise<LoadedConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new WardenError('WARDEN_CONFIG_UNREADABLE', `cannot read the configuration file ${file} (${code})`, {
      cause: e,
      detail: { file },
    });
  }
  try {
    return { ...parseConfig(text, { baseDir: dirname(file), ...opts }), path: file };
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.issues, { file });
    throw e;
  }
}

/** For `warden check`: a one-paragraph summary, or every issue. Never throws for a bad config. */
export async function checkConfigFile(
  path: string,
  opts: Pick<ParseOptions, 'secretsIn'> = {},
): Promise<{ ok: true; summary: string } | { ok: false; issues: ConfigIssue[] }> {
  try {
    const loaded = await loadConfigFile(path, opts);
    return { ok: true, summary: summarizeConfig(loaded) };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, issues: e.issues };
    if (e instanceof WardenError) return { ok: false, issues: [{ path: '', message: e.message }] };
    throw e;
  }
}

/** The embedded defaults: API on 127.0.0.1:8080, SQLite store, no connections — so everything is denied. */
export function defaultConfig(): WardenConfig {
  return configSchema.parse({});
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function summarizeConfig(loaded: LoadedConfig): string {
  const c = loaded.config;
  const doors = Object.entries(c.listen)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${v}`);
  const connections = Object.entries(c.connections).map(([name, conn]) => `${name} (${conn.type})`);
  const issuers = c.identity.issuers.length + (c.identity.dev ? 1 : 0);
  return [
    `${loaded.path ?? 'config'} is valid`,
    `  listen: ${doors.join(', ')}`,
    `  connections: ${connections.length > 0 ? connections.join(', ') : 'none'}`,
    `  identity: ${plural(issuers, 'issuer')}${c.identity.dev ? ' (dev issuer on)' : ''}`,
    `  policy: ${plural(c.access.length, 'access entry', 'access entries')}, ${plural(c.rules.length, 'rule')}, ${plural(c.masking.length, 'masking entry', 'masking entries')}`,
    `  store: ${c.store.startsWith('sqlite:') ? c.store : 'postgres'}`,
  ].join('\n');
}
