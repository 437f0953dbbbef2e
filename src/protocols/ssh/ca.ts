// The gateway's SSH user certificate authority (DESIGN.md §8 SSH): an ed25519 key generated
// once into dataDir (OpenSSH format, 0600, so `ssh-keygen -s` can use it too), and the issuing
// of short-lived user certificates for a verified identity. The identity travels inside the
// certificate (an extension signed by the CA): the front door rebuilds it from there, with no
// store lookup, and every gateway sharing the dataDir's CA accepts it.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { WardenError } from '../../core/errors.js';
import { readOrCreateKeyFile } from '../../core/key-file.js';
import type { Identity } from '../../core/types.js';
import {
  CertificateFormatError,
  certificateLine,
  ED25519,
  ed25519Blob,
  ed25519FromBlob,
  encodeCertificate,
  optionData,
  USER_CERT,
} from './certificate.js';
import { fingerprint } from './host-key.js';
import { generateEd25519KeyPair } from './keygen.js';
import { ssh2 } from './ssh2-module.js';

const FILE = 'ssh_user_ca_ed25519_key';
/** The extension holding the identity the certificate was issued for (JSON, see IdentityClaims). */
export const IDENTITY_EXTENSION = 'identity@warden';
/** What OpenSSH servers would allow; the gateway decides each operation by policy regardless. */
const PERMIT_EXTENSIONS = ['permit-port-forwarding', 'permit-pty'];
/** The identity extension is capped so a certificate stays far below an SSH packet. */
const MAX_IDENTITY_BYTES = 8 * 1024;
export const MAX_TTL_MS = 24 * 3_600_000;
/** valid_after is set this far back: a client clock a little behind still accepts the certificate. */
const BACKDATE_MS = 60_000;

export interface IdentityClaims {
  iss: string;
  sub: string;
  groups: string[];
  claims: Record<string, unknown>;
  /** The token's expiry (epoch ms): the certificate never outlives it. */
  exp: number;
  /** The token's jti, when it had one. */
  jti?: string;
}

export interface UserCa {
  /** The CA's public key blob (what a certificate names as its signature key). */
  readonly blob: Buffer;
  /** `ssh-ed25519 AAAA… warden user CA`: for `@cert-authority` / TrustedUserCAKeys lines. */
  readonly publicKey: string;
  readonly fingerprint: string;
  /** The raw 64-byte ed25519 signature over data. */
  sign(data: Buffer): Buffer;
}

export interface IssuedCertificate {
  /** The `-cert.pub` line. */
  certificate: string;
  keyId: string;
  serial: string;
  principal: string;
  validAfter: number;
  validBefore: number;
  /** `SHA256:…` of the certified public key. */
  publicKeyFingerprint: string;
}

const cas = new Map<string, Promise<UserCa>>();

/** The CA of a dataDir, created on first use; one load per process and dataDir. */
export function userCa(dataDir: string): Promise<UserCa> {
  let ca = cas.get(dataDir);
  if (!ca) {
    ca = loadCa(dataDir);
    ca.catch(() => cas.delete(dataDir));
    cas.set(dataDir, ca);
  }
  return ca;
}

async function loadCa(dataDir: string): Promise<UserCa> {
  const path = join(dataDir, FILE);
  const text = await readOrCreateKeyFile(path, () => {
    const pair = generateEd25519KeyPair('warden user CA');
    return [
      { path, text: pair.private, mode: 0o600 },
      { path: `${path}.pub`, text: `${pair.public}\n`, mode: 0o644 },
    ];
  });
  const key = ssh2().utils.parseKey(text);
  if (key instanceof Error || Array.isArray(key) || key.type !== ED25519)
    throw new WardenError('WARDEN_CONFIG_INVALID', `${path} is not an ed25519 private key`);
  const blob = key.getPublicSSH();
  return {
    blob,
    publicKey: `${ED25519} ${blob.toString('base64')} warden user CA`,
    fingerprint: fingerprint(blob),
    sign: (data) => key.sign(data),
  };
}

/** An `ssh-ed25519 AAAA…` public key line → its 32-byte key; anything else is a usage error. */
export function ed25519PublicKey(line: string): Buffer {
  const parsed = ssh2().utils.parseKey(line.trim());
  if (parsed instanceof Error || Array.isArray(parsed))
    throw new WardenError('WARDEN_USAGE', 'publicKey is not an OpenSSH public key line (ssh-ed25519 AAAA…)');
  if (parsed.type !== ED25519 || parsed.isPrivateKey())
    throw new WardenError('WARDEN_USAGE', `publicKey must be an ssh-ed25519 public key (got ${parsed.type})`);
  try {
    return ed25519FromBlob(parsed.getPublicSSH());
  } catch (err) {
    if (err instanceof CertificateFormatError) throw new WardenError('WARDEN_USAGE', `publicKey: ${err.message}`);
    throw err;
  }
}

/**
 * A user certificate for `identity`: principal = sub, valid from now (backdated a minute) until
 * min(now + ttl, token expiry). Key id = the token's jti (so `warden revoke --token-id` covers
 * every certificate minted with that token), or `ssh-cert-<serial>` for a token without one.
 */
export function issueUserCertificate(
  ca: UserCa,
  req: { publicKey: Buffer; identity: Identity; ttlMs: number; now: number },
): IssuedCertificate {
  const { identity, now } = req;
  if (!(req.ttlMs > 0) || req.ttlMs > MAX_TTL_MS)
    throw new WardenError('WARDEN_USAGE', `ttl must be between 1s and ${MAX_TTL_MS / 3_600_000}h`);
  const validBefore = Math.floor(Math.min(now + req.ttlMs, identity.expiresAt) / 1000);
  const validAfter = Math.floor((now - BACKDATE_MS) / 1000);
  if (validBefore * 1000 <= now)
    throw new WardenError('WARDEN_TOKEN_EXPIRED', 'the identity token expires too soon for a certificate');
  const serialBytes = randomBytes(8);
  const serial = serialBytes.readBigUInt64BE();
  const keyId = identity.tokenId ?? `ssh-cert-${serialBytes.toString('hex')}`;
  const claims: IdentityClaims = {
    iss: identity.issuer,
    sub: identity.sub,
    groups: identity.groups,
    claims: identity.claims,
    exp: identity.expiresAt,
    ...(identity.tokenId !== undefined ? { jti: identity.tokenId } : {}),
  };
  const json = JSON.stringify(claims);
  if (Buffer.byteLength(json) > MAX_IDENTITY_BYTES)
    throw new WardenError(
      'WARDEN_USAGE',
      `the token's claims are too large for a certificate (${Buffer.byteLength(json)} bytes, at most ${MAX_IDENTITY_BYTES})`,
    );
  const extensions = new Map<string, Buffer>(PERMIT_EXTENSIONS.map((e) => [e, Buffer.alloc(0)]));
  extensions.set(IDENTITY_EXTENSION, optionData(json));
  const blob = encodeCertificate(
    {
      nonce: randomBytes(32),
      publicKey: req.publicKey,
      serial,
      type: USER_CERT,
      keyId,
      principals: [identity.sub],
      validAfter: BigInt(validAfter),
      validBefore: BigInt(validBefore),
      criticalOptions: new Map(),
      extensions,
      signatureKey: ca.blob,
    },
    ca.sign,
  );
  return {
    certificate: certificateLine(blob, `warden ${identity.sub}`),
    keyId,
    serial: serial.toString(),
    principal: identity.sub,
    validAfter: validAfter * 1000,
    validBefore: validBefore * 1000,
    publicKeyFingerprint: fingerprint(ed25519Blob(req.publicKey)),
  };
}
