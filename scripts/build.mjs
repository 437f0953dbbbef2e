#!/usr/bin/env node
// Compiles src/ to dist/ (plain JS) so `warden` starts without a TypeScript loader: the loader's
// worker thread and transpiler cost ~100 MB of RSS and start-up time in a long-running gateway.
// Non-TypeScript assets next to the sources (sample SQL, demo policy) are copied alongside.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
rmSync(join(root, 'dist'), { recursive: true, force: true });
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
} catch (err) {
  // No compiler (installed without dev dependencies) or a type error: `warden` then runs the
  // sources through tsx, which is slower to start but equivalent. Never fail the install.
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  console.warn(`warden build skipped (${err.code === 'MODULE_NOT_FOUND' ? 'typescript not installed' : 'tsc failed'}); bin/warden.js will run from source`);
  process.exit(0);
}

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (!name.endsWith('.ts')) cpSync(p, join(root, 'dist', relative(join(root, 'src'), p)));
  }
}
walk(join(root, 'src'));
writeFileSync(join(root, 'dist', '.stamp'), String(Date.now()));
