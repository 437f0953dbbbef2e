// Relative paths in the config mean "next to the config file", not "wherever the process started".
import { isAbsolute, resolve } from 'node:path';
import type { WardenConfig } from './schema.js';

function abs(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** store (sqlite:PATH), recordings, dataDir and tls files, resolved against `baseDir`. Mutates and returns `cfg`. */
export function resolveConfigPaths(cfg: WardenConfig, baseDir: string): WardenConfig {
  if (cfg.store.startsWith('sqlite:')) {
    const file = cfg.store.slice('sqlite:'.length);
    // `:memory:` is SQLite's in-memory database, not a file.
    if (file !== ':memory:' && file !== '') cfg.store = `sqlite:${abs(baseDir, file)}`;
  }
  cfg.recordings = abs(baseDir, cfg.recordings);
  cfg.dataDir = abs(baseDir, cfg.dataDir);
  if (cfg.audit.checkpoint.file) cfg.audit.checkpoint.file = abs(baseDir, cfg.audit.checkpoint.file);
  if (cfg.tls) cfg.tls = { cert: abs(baseDir, cfg.tls.cert), key: abs(baseDir, cfg.tls.key) };
  return cfg;
}
