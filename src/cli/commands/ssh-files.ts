// The files behind `warden ssh-cert`, `warden ssh-config` and `warden ssh`: a key pair made on
// this machine (the private key never leaves it: only the public key goes to the gateway to be
// certified), the certificate, and a known_hosts file pinning the gateway's host key, all in one
// directory (default ~/.warden/ssh, 0700).
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { decodeJwt } from 'jose';
import type { IssuedCertificate } from '../../protocols/ssh/ca.js';
import { decodeCertificate, ed25519FromBlob, parseCertificateLine } from '../../protocols/ssh/certificate.js';
import { generateEd25519KeyPair } from '../../protocols/ssh/keygen.js';
import { ssh2 } from '../../protocols/ssh/ssh2-module.js';
import type { ApiClient } from '../client.js';
import { CliExit } from '../exit.js';
import { wardenHome } from '../stored-token.js';

export const KEY_FILE = 'id_ed25519';
export const CERT_FILE = 'id_ed25519-cert.pub';
export const KNOWN_HOSTS_FILE = 'known_hosts';
/** A certificate this close to its end is renewed before `warden ssh` uses it. */
const RENEW_MARGIN_MS = 60_000;

export interface SshFiles {
  dir: string;
  key: string;
  cert: string;
  knownHosts: string;
}

/** GET /api/v1/ssh */
export interface GatewaySsh {
  listen: { host: string; port: number } | null;
  hostKey: string;
  hostKeyFingerprint: string;
  userCa: string;
  userCaFingerprint: string;
}

export function sshFiles(dir?: string): SshFiles {
  const d = resolve(dir ?? join(wardenHome(), 'ssh'));
  return { dir: d, key: join(d, KEY_FILE), cert: join(d, CERT_FILE), knownHosts: join(d, KNOWN_HOSTS_FILE) };
}

/** Write through a temporary file and rename, so a reader never sees half a key. */
async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

/** A fresh key pair (kept here) and a certificate for it (from the gateway). */
export async function mintCertificate(api: ApiClient, files: SshFiles, ttl: string): Promise<IssuedCertificate> {
  await mkdir(files.dir, { recursive: true, mode: 0o700 });
  const pair = generateEd25519KeyPair('warden ssh-cert');
  const { certificate } = await api.request<{ certificate: IssuedCertificate }>('POST', '/api/v1/ssh/certificates', {
    publicKey: pair.public,
    ttl,
  });
  await writeAtomic(files.key, pair.private, 0o600);
  await writeAtomic(`${files.key}.pub`, `${pair.public}\n`, 0o644);
  await writeAtomic(files.cert, `${certificate.certificate}\n`, 0o644);
  return certificate;
}

/**
 * Whether the certificate on disk can be used as it is: readable, for the key next to it, for
 * the token's subject (read without verifying: only to notice a token of someone else), and
 * not about to end. The gateway decides; this only avoids a login that would be refused.
 */
export async function certificateUsable(files: SshFiles, token: string, now: number): Promise<boolean> {
  try {
    const cert = decodeCertificate(parseCertificateLine(await readFile(files.cert, 'utf8')));
    const key = ssh2().utils.parseKey(await readFile(files.key, 'utf8'));
    if (key instanceof Error || Array.isArray(key)) return false;
    if (!ed25519FromBlob(key.getPublicSSH()).equals(cert.publicKey)) return false;
    const sub = decodeJwt(token).sub;
    if (sub !== undefined && cert.principals[0] !== sub) return false;
    return Number(cert.validBefore) * 1000 - now > RENEW_MARGIN_MS;
  } catch {
    return false;
  }
}

export async function gatewaySsh(api: ApiClient): Promise<GatewaySsh & { listen: { host: string; port: number } }> {
  const { ssh } = await api.request<{ ssh: GatewaySsh }>('GET', '/api/v1/ssh');
  if (!ssh.listen) throw new CliExit(1, 'warden: the gateway has no SSH front door (listen.ssh is not set)');
  // A wildcard listen address is reached by the name the API was reached by.
  const wildcard = ['', '0.0.0.0', '::', '[::]'].includes(ssh.listen.host);
  const host = wildcard ? new URL(api.baseUrl).hostname.replace(/^\[|\]$/g, '') : ssh.listen.host;
  return { ...ssh, listen: { host, port: ssh.listen.port } };
}

/** How ssh names a host:port in known_hosts (and looks it up: HostName + Port). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export async function writeKnownHosts(files: SshFiles, gw: GatewaySsh & { listen: { host: string; port: number } }) {
  await mkdir(files.dir, { recursive: true, mode: 0o700 });
  const [type, key] = gw.hostKey.split(' ');
  await writeAtomic(
    files.knownHosts,
    `# the Warden gateway's SSH host key (${gw.hostKeyFingerprint}), written by warden\n${knownHostsName(gw.listen.host, gw.listen.port)} ${type} ${key}\n`,
    0o644,
  );
}

/** A path as an ssh_config argument: quoted, `%` (ssh's token escape) doubled. */
export function configPath(path: string): string {
  if (/["\r\n]/.test(path)) throw new CliExit(2, `warden: ${JSON.stringify(path)} cannot be named in an ssh config`);
  return `"${path.replace(/%/g, '%%')}"`;
}

/** The ssh options for one connection, as `Name value` pairs (config lines, or `-o Name=value`). */
export function sshOptions(
  files: SshFiles,
  gw: { listen: { host: string; port: number } },
  connection: string,
): [string, string][] {
  return [
    ['HostName', gw.listen.host],
    ['Port', String(gw.listen.port)],
    ['User', connection],
    ['IdentityFile', configPath(files.key)],
    ['CertificateFile', configPath(files.cert)],
    // Only Warden's key: an agent full of keys would use up the server's tries first.
    ['IdentitiesOnly', 'yes'],
    ['UserKnownHostsFile', configPath(files.knownHosts)],
    ['StrictHostKeyChecking', 'yes'],
    ['UpdateHostKeys', 'no'],
  ];
}
