// SCRAM-SHA-256 client (RFC 5802 / RFC 7677) as PostgreSQL speaks it: no channel binding
// (gs2 header "n,,"), empty user name (the server uses the startup user). The server's final
// signature is verified, so a server that does not know the password cannot impersonate the target.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { UpstreamError } from './errors.js';

const pbkdf2Async = promisify(pbkdf2);
export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
/** Bounds the CPU a hostile server can make us spend (PostgreSQL's default is 4096). */
const MAX_ITERATIONS = 10_000_000;

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function fail(message: string): never {
  throw new UpstreamError('auth-failed', `SCRAM: ${message}`);
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) fail('malformed server message');
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/**
 * SASLprep-lite (RFC 4013): map non-ASCII spaces to SPACE, drop "mapped to nothing" characters,
 * NFKC. Like libpq, a password containing control characters is used unprepared.
 */
export function saslPrep(password: string): string {
  if (/[\u0000-\u001f\u007f]/.test(password)) return password;
  return password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    .split('')
    .filter((ch) => !mappedToNothing(ch.charCodeAt(0)))
    .join('')
    .normalize('NFKC');
}

/** RFC 3454 table B.1 (soft hyphen, joiners, variation selectors, BOM). */
function mappedToNothing(c: number): boolean {
  return (
    c === 0x00ad ||
    c === 0x034f ||
    c === 0x1806 ||
    (c >= 0x180b && c <= 0x180d) ||
    c === 0x200c ||
    c === 0x200d ||
    c === 0x2060 ||
    (c >= 0xfe00 && c <= 0xfe0f) ||
    c === 0xfeff
  );
}

export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private readonly clientFirstBare = `n=,r=${this.clientNonce}`;
  private expectedServerSignature: Buffer | undefined;

  /** Data of the SASLInitialResponse. */
  initialResponse(): Buffer {
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  /** Answer the server-first message (SASLContinue); returns the client-final message. */
  async respond(serverFirstData: Buffer, password: string): Promise<Buffer> {
    const serverFirst = serverFirstData.toString('utf8');
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r');
    const saltB64 = attrs.get('s');
    const iterText = attrs.get('i');
    if (attrs.has('m')) fail('unsupported mandatory extension');
    if (!nonce || !saltB64 || !iterText) fail('server-first message lacks r, s or i');
    if (!nonce.startsWith(this.clientNonce) || nonce.length <= this.clientNonce.length) fail('server nonce mismatch');
    if (!/^[1-9]\d{0,8}$/.test(iterText)) fail('bad iteration count');
    const iterations = Number(iterText);
    if (iterations > MAX_ITERATIONS) fail('iteration count too large');
    const salt = Buffer.from(saltB64, 'base64');
    if (salt.length === 0) fail('empty salt');

    const salted = await pbkdf2Async(saslPrep(password), salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const clientFinalWithoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Check the server-final message (SASLFinal). Throws auth-failed unless the server proved itself. */
  verifyFinal(serverFinalData: Buffer): void {
    if (!this.expectedServerSignature) fail('server-final before server-first');
    const attrs = attributes(serverFinalData.toString('utf8'));
    const err = attrs.get('e');
    if (err !== undefined) fail(`server reported ${err}`);
    const v = attrs.get('v');
    if (!v) fail('server-final lacks a signature');
    const got = Buffer.from(v, 'base64');
    const want = this.expectedServerSignature;
    if (got.length !== want.length || !timingSafeEqual(got, want)) fail('server signature does not match');
  }
}
