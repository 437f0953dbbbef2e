// TLS material for the front doors: the configured cert/key, or a self-signed pair generated once
// into the data directory (what `warden demo` uses).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { promisify } from 'node:util';
import type { WardenConfig } from '../config/schema.js';

const run = promisify(execFile);

/** `openssl req` arguments for a new, unencrypted P-256 key (the gateway's pair; tests' CA and server). */
export const OPENSSL_EC_KEY: readonly string[] = [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:prime256v1',
  '-nodes',
];

export async function loadTlsMaterial(config: WardenConfig): Promise<SecureContextOptions | null> {
  if (config.tls) {
    return { cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) };
  }
  const cert = join(config.dataDir, 'tls-cert.pem');
  const key = join(config.dataDir, 'tls-key.pem');
  if (!existsSync(cert) || !existsSync(key)) {
    try {
      await run('openssl', [
        'req',
        '-x509',
        ...OPENSSL_EC_KEY,
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '365',
        '-subj',
        '/CN=warden',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ]);
    } catch {
      return null; // no openssl: TLS front doors stay off, loopback cleartext still works
    }
  }
  return { cert: await readFile(cert), key: await readFile(key) };
}
