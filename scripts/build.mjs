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
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // Installed without dev dependencies: `warden` runs the sources through tsx (slower to start,
  // equivalent), and says so when it starts.
  console.warn('warden build skipped: typescript is not installed; bin/warden.js will run from source');
  process.exit(0);
}
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
} catch {
  // A type error is a broken build: fail loudly (npm ci fails) instead of running the sources.
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  console.error('warden build failed: tsc reported errors (see above)');
  process.exit(1);
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
