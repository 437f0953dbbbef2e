// Audit anchors: a checkpoint names one point of the chain (seq, hash) and when it was taken,
// signed with the gateway's Ed25519 key. The chain alone cannot show that its newest rows were
// deleted; a checkpoint kept apart from the log (its own table, a file elsewhere, a webhook) can.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readOrCreateKeyFile } from '../core/key-file.js';
import { canonicalJson } from './canonical.js';

/** The private key, PKCS#8 PEM, mode 0600 in dataDir; generated on first start. */
export const CHECKPOINT_KEY_FILE = 'audit-checkpoint-key.pem';
/** The public key next to it (SPKI PEM), for handing to auditors. */
export const CHECKPOINT_PUBLIC_KEY_FILE = 'audit-checkpoint-key.pub.pem';
/** Domain separation: a checkpoint signature can never be mistaken for any other signed text. */
const SIGNED_PREFIX = 'warden.audit.checkpoint.v1\n';

export interface Checkpoint {
  seq: number;
  hash: string;
  /** Epoch milliseconds, when it was signed. */
  at: number;
  /** First 16 hex digits of sha256 over the public key (SPKI DER). */
  keyId: string;
  /** SPKI DER, base64. */
  publicKey: string;
  /** Ed25519 over SIGNED_PREFIX + canonical {at, hash, keyId, seq}, base64. */
  signature: string;
}

export function keyIdOf(publicKeyDerBase64: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyDerBase64, 'base64')).digest('hex').slice(0, 16);
}

function signedText(c: Pick<Checkpoint, 'seq' | 'hash' | 'at' | 'keyId'>): Buffer {
  return Buffer.from(SIGNED_PREFIX + canonicalJson({ at: c.at, hash: c.hash, keyId: c.keyId, seq: c.seq }));
}

export class CheckpointSigner {
  readonly keyId: string;
  /** SPKI DER, base64 (what checkpoints carry). */
  readonly publicKey: string;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
    this.keyId = keyIdOf(this.publicKey);
  }

  /** Loads the key from dataDir, generating it (0600, never overwritten) on first use. */
  static async load(dataDir: string): Promise<CheckpointSigner> {
    const file = join(dataDir, CHECKPOINT_KEY_FILE);
    // Two processes starting on one dataDir never replace each other's key (core/key-file.ts).
    const pem = await readOrCreateKeyFile(file, () => [
      {
        path: file,
        text: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        mode: 0o600,
      },
    ]);
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an Ed25519 private key`);
    const signer = new CheckpointSigner(key);
    await writeFile(join(dataDir, CHECKPOINT_PUBLIC_KEY_FILE), signer.publicKeyPem(), { mode: 0o644 });
    return signer;
  }

  publicKeyPem(): string {
    return publicKeyPem(this.publicKey);
  }

  sign(point: { seq: number; hash: string; at: number }): Checkpoint {
    const c = { seq: point.seq, hash: point.hash, at: point.at, keyId: this.keyId, publicKey: this.publicKey };
    return { ...c, signature: sign(null, signedText(c), this.privateKey).toString('base64') };
  }
}

export function publicKeyPem(publicKeyDerBase64: string): string {
  return createPublicKey({ key: Buffer.from(publicKeyDerBase64, 'base64'), format: 'der', type: 'spki' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}

/** A public key given as SPKI PEM or SPKI DER base64 → SPKI DER base64; throws on anything else. */
export function parsePublicKey(text: string): string {
  const trimmed = text.trim();
  const key = trimmed.startsWith('-----BEGIN')
    ? createPublicKey(trimmed)
    : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 public key');
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** True when the checkpoint was signed by the key it names (not whether that key is trusted). */
export function checkpointSignatureValid(c: Checkpoint): boolean {
  try {
    if (keyIdOf(c.publicKey) !== c.keyId) return false;
    const key = createPublicKey({ key: Buffer.from(c.publicKey, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return verify(null, signedText(c), key, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

/** One checkpoint as a line of the checkpoint file (JSON lines, keys sorted). */
export function checkpointLine(c: Checkpoint): string {
  return `${canonicalJson(c)}\n`;
}

/**
 * The checkpoint file: one JSON checkpoint per line. A line that is not a checkpoint is returned
 * in `unreadable` (by line number) instead of silently skipped: the file is evidence.
 */
export function parseCheckpointFile(text: string): { checkpoints: Checkpoint[]; unreadable: number[] } {
  const checkpoints: Checkpoint[] = [];
  const unreadable: number[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      const c = JSON.parse(line) as Partial<Checkpoint>;
      if (
        Number.isSafeInteger(c.seq) &&
        typeof c.hash === 'string' &&
        Number.isFinite(c.at) &&
        typeof c.keyId === 'string' &&
        typeof c.publicKey === 'string' &&
        typeof c.signature === 'string'
      ) {
        checkpoints.push(c as Checkpoint);
        continue;
      }
    } catch {}
    unreadable.push(i + 1);
  }
  return { checkpoints, unreadable };
}
