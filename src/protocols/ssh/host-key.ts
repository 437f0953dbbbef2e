// The gateway's own SSH host key: generated once (ed25519) into dataDir, read back afterwards.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';

const FILE = 'ssh_host_ed25519_key';

export async function gatewayHostKey(dataDir: string): Promise<string> {
  const path = join(dataDir, FILE);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'warden gateway host key' });
  // `wx`: two gateways starting on one dataDir keep the first key.
  await writeFile(path, pair.private, { mode: 0o600, flag: 'wx' }).catch(() => {});
  await writeFile(`${path}.pub`, `${pair.public}\n`, { mode: 0o644, flag: 'wx' }).catch(() => {});
  return readFile(path, 'utf8');
}

/** OpenSSH's `SHA256:…` fingerprint (base64 without padding) of a key's wire blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
