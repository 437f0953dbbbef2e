#!/usr/bin/env node
// pretest: the integration tests start real servers (PostgreSQL, pgbench, psql…). Install the
// Debian packages that are missing: as root directly, else through sudo, else print the line.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const PG_BASE = '/usr/lib/postgresql';

function hasPostgresServer() {
  if (!existsSync(PG_BASE)) return false;
  return readdirSync(PG_BASE).some(
    (v) => existsSync(`${PG_BASE}/${v}/bin/initdb`) && existsSync(`${PG_BASE}/${v}/bin/postgres`),
  );
}
function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// package → present?
const wanted = [
  ['postgresql', hasPostgresServer()],
  ['postgresql-client', onPath('psql')],
  ['postgresql-contrib', onPath('pgbench') || existsSync('/usr/lib/postgresql/15/bin/pgbench')],
  ['openssl', onPath('openssl')],
  ['procps', onPath('ps')],
  ['util-linux', onPath('runuser')],
  // SSH adapter tests: Debian's sshd as the target, the real ssh/scp/sftp clients, sshpass for the token.
  ['openssh-server', existsSync('/usr/sbin/sshd')],
  ['openssh-client', onPath('ssh') && onPath('scp') && onPath('sftp')],
  ['sshpass', onPath('sshpass')],
  // Reviewer console browser tests: Debian's Chromium, driven by playwright-core.
  ['chromium', existsSync('/usr/bin/chromium')],
];
const missing = wanted.filter(([, ok]) => !ok).map(([pkg]) => pkg);
if (missing.length === 0) process.exit(0);

const line = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const prefix = isRoot ? [] : onPath('sudo') ? ['sudo', '-n'] : null;
if (!prefix) {
  console.error(`warden tests need system packages: ${missing.join(', ')}\nrun as root:\n  ${line}`);
  process.exit(1);
}
console.error(`installing system packages for the tests: ${missing.join(' ')}`);
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync(prefix[0] ?? 'apt-get', [...prefix.slice(1), ...(prefix.length ? ['apt-get'] : []), 'update'], {
    stdio: 'inherit',
    env,
  });
  execFileSync(
    prefix[0] ?? 'apt-get',
    [...prefix.slice(1), ...(prefix.length ? ['apt-get'] : []), 'install', '-y', '--no-install-recommends', ...missing],
    {
      stdio: 'inherit',
      env,
    },
  );
} catch {
  console.error(`installing failed; run:\n  ${isRoot ? '' : 'sudo '}${line}`);
  process.exit(1);
}
