// A test CA and a server certificate for 127.0.0.1 signed by it, made by openssl: for TLS servers
// started by tests (an HTTPS upstream, the gateway side of a TLS socket pair).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPENSSL_EC_KEY } from '../../src/gateway/tls.js';

/** A test CA and a server certificate for 127.0.0.1 signed by it (PEM texts). */
export function makeTestCa(dir: string): { ca: string; cert: string; key: string; caPath: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    ...OPENSSL_EC_KEY,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=warden test CA',
  ]);
  run(['req', ...OPENSSL_EC_KEY, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run([
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.pem'), cert: read('srv.pem'), key: read('srv.key'), caPath: join(dir, 'ca.pem') };
}
