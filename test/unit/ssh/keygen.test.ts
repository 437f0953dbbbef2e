// ed25519 pairs from generateEd25519KeyPair are always well formed: ssh2's own generator makes
// about 1 malformed pair in 256 (leading zero bytes of the public key stripped, ssh2#1390), which
// left a gateway host key or user CA unusable — 2,000 pairs would hit it with p ≈ 0.9995.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { generateEd25519KeyPair } from '../../../src/protocols/ssh/keygen.js';

test('2,000 generated pairs all parse, both halves, with a 32-byte public key', () => {
  for (let i = 0; i < 2000; i++) {
    const pair = generateEd25519KeyPair('test');
    const pub = ssh2.utils.parseKey(pair.public);
    const priv = ssh2.utils.parseKey(pair.private);
    assert.ok(!(pub instanceof Error) && !Array.isArray(pub), `public key ${i}: ${pair.public}`);
    assert.ok(!(priv instanceof Error) && !Array.isArray(priv), `private key ${i}`);
    assert.deepEqual(priv.getPublicSSH(), pub.getPublicSSH(), 'the halves belong together');
    assert.equal(pub.getPublicSSH().readUInt32BE(15), 32);
  }
});

test('OpenSSH reads the private key and derives the same public key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-keygen-'));
  try {
    for (let i = 0; i < 20; i++) {
      const pair = generateEd25519KeyPair('openssh check');
      const file = join(dir, `k${i}`);
      writeFileSync(file, pair.private, { mode: 0o600 });
      const derived = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
      assert.equal(derived.split(' ').slice(0, 2).join(' '), pair.public.split(' ').slice(0, 2).join(' '));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
