#!/usr/bin/env node
// Runs every test file under test/ (or those named) with node's own test runner through tsx,
// so the runner's summary line ends the output. Node 20's --test does not expand globs itself.
// Before the runner starts, one PostgreSQL cluster is started for the whole run; the test
// processes find it in WARDEN_TEST_PG and take a database each from it (test/helpers/postgres.ts),
// instead of an initdb per file. It is stopped and removed when the run ends, however it ends.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { tsImport } from 'tsx/esm/api';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const files = (args.length ? args : ['test']).flatMap((a) => (statSync(a).isDirectory() ? walk(a) : [a]));

// Unit tests never reach PostgreSQL: a unit-only run skips the initdb.
const needsPostgres = files.some((f) => !`${sep}${f}`.includes(`${sep}unit${sep}`));
const helper = needsPostgres ? await tsImport('../test/helpers/postgres.ts', import.meta.url) : undefined;
// Two files at a time, each with a gateway pool and direct clients: room to spare.
const cluster = helper ? await helper.startCluster({ maxConnections: 300 }) : undefined;

let stopping;
const stopCluster = () => {
  stopping ??= cluster ? cluster.stop().catch(() => undefined) : Promise.resolve();
  return stopping;
};

const env = { ...process.env };
if (cluster) {
  env[helper.SHARED_CLUSTER_ENV] = JSON.stringify({
    port: cluster.port,
    superPassword: cluster.superPassword,
    dir: cluster.dir,
  });
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...files],
  // Its own process group, so that test files it leaves behind (it can exit before them on a
  // signal) are ended with it before the cluster under them is removed.
  { stdio: 'inherit', env, detached: true },
);

// The runner is in its own process group, so Ctrl-C reaches this process only: it is passed on,
// and the cluster goes once the runner has exited.
let signalled;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    signalled ??= sig;
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  });
}

const code = await new Promise((resolve) => {
  child.on('error', (err) => {
    console.error(`could not start the test runner: ${err.message}`);
    resolve(1);
  });
  child.on('exit', (status, signal) => resolve(status ?? (signal || signalled ? 130 : 1)));
});
try {
  process.kill(-child.pid, 'SIGKILL');
} catch {
  // ESRCH: nothing of the run is left.
}
await stopCluster();
process.exit(signalled ? 130 : code);
