// OpenSSH certificates (PROTOCOL.certkeys), ed25519 only: the wire format, written and read.
//
// Hand-written rather than sshpk: sshpk models certificates as X.509-shaped objects (an empty
// principal list silently becomes '*', key id and extensions only through undocumented
// internals), and what the gateway needs is a strict reader: every field length-checked, no
// trailing bytes, options sorted and unique, so a certificate is either exactly what a CA signed
// or refused. The format is fifteen length-prefixed fields; interoperability is tested with the
// real ssh-keygen (-L reads ours, -s makes the ones the tests refuse) and the real ssh client.
import { createPublicKey, verify } from 'node:crypto';

export const ED25519 = 'ssh-ed25519';
export const ED25519_CERT = 'ssh-ed25519-cert-v01@openssh.com';
export const USER_CERT = 1;
export const HOST_CERT = 2;
/** A certificate is at most this big (ours are ~1 KiB; the identity extension is capped below it). */
export const MAX_CERT_BYTES = 16 * 1024;

export class CertificateFormatError extends Error {}

export interface CertificateFields {
  nonce: Buffer;
  /** The certified ed25519 public key (32 bytes). */
  publicKey: Buffer;
  serial: bigint;
  type: number;
  keyId: string;
  principals: string[];
  /** Seconds since the epoch. */
  validAfter: bigint;
  validBefore: bigint;
  /** name → data (empty for a flag; an SSH string holding the value otherwise). */
  criticalOptions: Map<string, Buffer>;
  extensions: Map<string, Buffer>;
  /** The CA's public key blob. */
  signatureKey: Buffer;
}

export interface Certificate extends CertificateFields {
  /** The bytes the CA signed (everything up to and including the signature key). */
  signed: Buffer;
  /** The CA's signature blob (`string algo, string sig`). */
  signature: Buffer;
}

/** SSH wire encoding (RFC 4251 §5): uint32, uint64, string. */
export class SshWriter {
  private readonly parts: Buffer[] = [];

  u32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    this.parts.push(b);
    return this;
  }

  u64(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    this.parts.push(b);
    return this;
  }

  string(s: Buffer | string): this {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    this.u32(b.length);
    this.parts.push(b);
    return this;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Strict reader: a short field, an overlong length or leftover bytes is a format error. */
export class SshReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  get offset(): number {
    return this.pos;
  }

  u32(): number {
    if (this.pos + 4 > this.buf.length) throw new CertificateFormatError('truncated');
    const n = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return n;
  }

  u64(): bigint {
    if (this.pos + 8 > this.buf.length) throw new CertificateFormatError('truncated');
    const n = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return n;
  }

  string(): Buffer {
    const len = this.u32();
    if (this.pos + len > this.buf.length) throw new CertificateFormatError('truncated');
    const s = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** A UTF-8 string; invalid UTF-8 is refused rather than replaced. */
  text(): string {
    const b = this.string();
    const s = b.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) throw new CertificateFormatError('a text field is not UTF-8');
    return s;
  }

  atEnd(): boolean {
    return this.pos === this.buf.length;
  }

  end(): void {
    if (!this.atEnd()) throw new CertificateFormatError('trailing bytes');
  }
}

export function ed25519Blob(publicKey: Buffer): Buffer {
  return new SshWriter().string(ED25519).string(publicKey).bytes();
}

/** The 32-byte key of an `ssh-ed25519` public key blob. */
export function ed25519FromBlob(blob: Buffer): Buffer {
  const r = new SshReader(blob);
  if (r.text() !== ED25519) throw new CertificateFormatError('not an ssh-ed25519 key');
  const key = r.string();
  r.end();
  if (key.length !== 32) throw new CertificateFormatError('an ed25519 key is 32 bytes');
  return key;
}

/** Verify an SSH ed25519 signature blob (`string "ssh-ed25519", string sig[64]`) over data. */
export function verifyEd25519(publicKey: Buffer, data: Buffer, signatureBlob: Buffer): boolean {
  let sig: Buffer;
  try {
    const r = new SshReader(signatureBlob);
    if (r.text() !== ED25519) return false;
    sig = r.string();
    r.end();
  } catch {
    return false;
  }
  if (sig.length !== 64 || publicKey.length !== 32) return false;
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') },
    format: 'jwk',
  });
  return verify(null, data, key, sig);
}

function writeOptions(options: Map<string, Buffer>): Buffer {
  const w = new SshWriter();
  // PROTOCOL.certkeys: options are lexically ordered by name, each at most once (a Map is unique).
  for (const name of [...options.keys()].sort(compareBytes)) w.string(name).string(options.get(name) as Buffer);
  return w.bytes();
}

function readOptions(buf: Buffer): Map<string, Buffer> {
  const r = new SshReader(buf);
  const out = new Map<string, Buffer>();
  let last: string | null = null;
  while (!r.atEnd()) {
    const name = r.text();
    if (last !== null && compareBytes(last, name) >= 0)
      throw new CertificateFormatError('options are not in lexical order or repeat');
    out.set(name, r.string());
    last = name;
  }
  return out;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** An option's value: the SSH string its data holds (flags have empty data). */
export function optionValue(data: Buffer): string {
  const r = new SshReader(data);
  const v = r.text();
  r.end();
  return v;
}

export function optionData(value: string): Buffer {
  return new SshWriter().string(value).bytes();
}

/** Everything the CA signs, in wire order. */
export function certificateBody(f: CertificateFields): Buffer {
  const principals = new SshWriter();
  for (const p of f.principals) principals.string(p);
  return new SshWriter()
    .string(ED25519_CERT)
    .string(f.nonce)
    .string(f.publicKey)
    .u64(f.serial)
    .u32(f.type)
    .string(f.keyId)
    .string(principals.bytes())
    .u64(f.validAfter)
    .u64(f.validBefore)
    .string(writeOptions(f.criticalOptions))
    .string(writeOptions(f.extensions))
    .string(Buffer.alloc(0))
    .string(f.signatureKey)
    .bytes();
}

/** The certificate blob: the body and the CA's signature over it (`sign` returns the raw 64 bytes). */
export function encodeCertificate(f: CertificateFields, sign: (data: Buffer) => Buffer): Buffer {
  const body = certificateBody(f);
  const signature = new SshWriter().string(ED25519).string(sign(body)).bytes();
  return Buffer.concat([body, new SshWriter().string(signature).bytes()]);
}

/** Read a certificate blob strictly. Says nothing about trust: see ./cert-auth.ts. */
export function decodeCertificate(blob: Buffer): Certificate {
  if (blob.length > MAX_CERT_BYTES) throw new CertificateFormatError('too large');
  const r = new SshReader(blob);
  if (r.text() !== ED25519_CERT) throw new CertificateFormatError(`not an ${ED25519_CERT} certificate`);
  const nonce = r.string();
  const publicKey = r.string();
  if (publicKey.length !== 32) throw new CertificateFormatError('an ed25519 key is 32 bytes');
  const serial = r.u64();
  const type = r.u32();
  const keyId = r.text();
  const pr = new SshReader(r.string());
  const principals: string[] = [];
  while (!pr.atEnd()) principals.push(pr.text());
  const validAfter = r.u64();
  const validBefore = r.u64();
  const criticalOptions = readOptions(r.string());
  const extensions = readOptions(r.string());
  r.string(); // reserved: ignored, as OpenSSH does
  const signatureKey = r.string();
  const signed = blob.subarray(0, r.offset);
  const signature = r.string();
  r.end();
  return {
    nonce,
    publicKey,
    serial,
    type,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey,
    signed,
    signature,
  };
}

/** `ssh-ed25519-cert-v01@openssh.com AAAA… comment` (an `-cert.pub` file) → the blob. */
export function parseCertificateLine(text: string): Buffer {
  const m = /^\s*(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s.*)?$/s.exec(text);
  if (!m || m[1] !== ED25519_CERT) throw new CertificateFormatError(`not an ${ED25519_CERT} certificate line`);
  return Buffer.from(m[2] as string, 'base64');
}

export function certificateLine(blob: Buffer, comment: string): string {
  return `${ED25519_CERT} ${blob.toString('base64')}${comment ? ` ${comment.replace(/[\r\n]/g, ' ')}` : ''}`;
}
