#!/usr/bin/env node
// Entry point. Runs the compiled dist/ (built by `npm ci` through the prepare script) when it is
// up to date with src/; otherwise transpiles the TypeScript sources on the fly with tsx, so a
// fresh edit is never run stale.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// Start-up may not grow V8's young generation (why: src/core/young-generation.ts, which lets it
// grow again once the gateway listens).
setFlagsFromString('--semi-space-growth-factor=1');

const root = fileURLToPath(new URL('..', import.meta.url));

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function distIsFresh() {
  try {
    return statSync(join(root, 'dist', '.stamp')).mtimeMs >= newestMtime(join(root, 'src'));
  } catch {
    return false;
  }
}

let main;
if (process.env.WARDEN_FROM_SOURCE !== '1' && distIsFresh()) {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  if (process.env.WARDEN_FROM_SOURCE !== '1' && process.env.WARDEN_QUIET_SOURCE !== '1') {
    // Not silent: a stale or missing build means what runs is not what `npm run build` checked.
    process.stderr.write('warden: dist/ is missing or older than src/ (run `npm run build`); running the sources through tsx\n');
  }
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
await main(process.argv);
