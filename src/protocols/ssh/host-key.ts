// The gateway's own SSH host key: generated once (ed25519) into dataDir, read back afterwards.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readOrCreateKeyFile } from '../../core/key-file.js';
import { generateEd25519KeyPair } from './keygen.js';

const FILE = 'ssh_host_ed25519_key';

export function gatewayHostKey(dataDir: string): Promise<string> {
  const path = join(dataDir, FILE);
  return readOrCreateKeyFile(path, () => {
    const pair = generateEd25519KeyPair('warden gateway host key');
    return [
      { path, text: pair.private, mode: 0o600 },
      { path: `${path}.pub`, text: `${pair.public}\n`, mode: 0o644 },
    ];
  });
}

/** OpenSSH's `SHA256:…` fingerprint (base64 without padding) of a key's wire blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
