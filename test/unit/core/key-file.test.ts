// Key files generated on first use: concurrent first readers (the SSH front door's first
// connections, GET /api/v1/ssh, a second process) all get the one complete key, never an empty or
// half-written file (regression: `wx` creates the file empty first, and a reader in between got
// an unparsable host key, so the SSH front door closed every connection).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { readOrCreateKeyFile } from '../../../src/core/key-file.js';
import { gatewayHostKey } from '../../../src/protocols/ssh/host-key.js';

describe('key files created on first use', () => {
  it('fifty concurrent first readers get the same complete key; nothing is left behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warden-keyfile-'));
    try {
      const keys = await Promise.all(Array.from({ length: 50 }, () => gatewayHostKey(join(dir, 'data'))));
      assert.equal(new Set(keys).size, 1);
      const parsed = ssh2.utils.parseKey(keys[0]!);
      assert.ok(!(parsed instanceof Error) && !Array.isArray(parsed) && parsed.type === 'ssh-ed25519');
      assert.equal((await stat(join(dir, 'data', 'ssh_host_ed25519_key'))).mode & 0o777, 0o600);
      assert.deepEqual((await readdir(join(dir, 'data'))).sort(), ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('two processes racing on one dataDir keep one key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warden-keyfile-'));
    const module = fileURLToPath(new URL('../../../src/core/key-file.ts', import.meta.url));
    const script = `
      const { readOrCreateKeyFile } = await import(${JSON.stringify(module)});
      const { randomBytes } = await import('node:crypto');
      const path = ${JSON.stringify(join(dir, 'k'))};
      const out = await Promise.all(Array.from({ length: 20 }, () =>
        readOrCreateKeyFile(path, () => [{ path, text: randomBytes(4096).toString('hex'), mode: 0o600 }])));
      process.stdout.write(JSON.stringify([...new Set(out)]));`;
    try {
      const run = () =>
        new Promise<string[]>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
          let out = '';
          child.stdout.on('data', (c: Buffer) => (out += c));
          child.on('error', reject);
          child.on('exit', (code) =>
            code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`exit ${code}`)),
          );
        });
      const [a, b] = await Promise.all([run(), run()]);
      assert.equal(a.length, 1, 'one key within a process');
      assert.deepEqual(a, b, 'the same key in both processes');
      assert.equal(a[0]!.length, 8192, 'complete');
      assert.equal(await readOrCreateKeyFile(join(dir, 'k'), () => []), a[0]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
