// The built-in dev issuer (`identity.dev: true`, on in `warden demo`): an ES256 key kept in
// <dataDir>/dev-issuer-key.json (0600), tokens minted locally, and a discovery document + JWKS
// served by the API listener at <issuerUrl>/.well-known/openid-configuration and
// <issuerUrl>/jwks.json. Issuer URL convention: http://<api listen host:port>/dev.
import { randomUUID } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';

export const DEV_ISSUER_KEY_FILE = 'dev-issuer-key.json';
const ALG = 'ES256';

export interface MintOptions {
  sub: string;
  groups: string[];
  ttlMs: number;
  /** Default `warden`. */
  audience?: string;
  /** More claims; they never override iss, sub, aud, iat, nbf, exp, jti or groups. */
  extra?: Record<string, unknown>;
}

export class DevIssuer {
  readonly issuer: string;
  readonly algorithm = ALG;
  readonly kid: string;
  readonly #privateKey: CryptoKey;
  readonly #publicJwk: JWK;
  readonly #clock: Clock;

  private constructor(issuer: string, kid: string, privateKey: CryptoKey, publicJwk: JWK, clock: Clock) {
    this.issuer = issuer;
    this.kid = kid;
    this.#privateKey = privateKey;
    this.#publicJwk = publicJwk;
    this.#clock = clock;
  }

  /** Reads the key from `<dataDir>/dev-issuer-key.json`, creating it (0600) on first use. */
  static async load(dataDir: string, issuerUrl: string, opts: { clock?: Clock } = {}): Promise<DevIssuer> {
    let url: URL;
    try {
      url = new URL(issuerUrl);
    } catch {
      throw new TypeError(`dev issuer URL '${issuerUrl}' is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('dev issuer URL must be http(s)');
    const issuer = issuerUrl.replace(/\/+$/, '');

    const privateJwk = await readOrCreateKey(dataDir);
    const { d: _d, ...publicPart } = privateJwk;
    const publicJwk: JWK = { ...publicPart, kid: privateJwk.kid, alg: ALG, use: 'sig' };
    const privateKey = (await importJWK(privateJwk, ALG)) as CryptoKey;
    return new DevIssuer(issuer, privateJwk.kid as string, privateKey, publicJwk, opts.clock ?? systemClock);
  }

  async mint(opts: MintOptions): Promise<string> {
    if (typeof opts.sub !== 'string' || opts.sub === '') throw new TypeError('mint: sub must be a non-empty string');
    if (!Array.isArray(opts.groups) || !opts.groups.every((g) => typeof g === 'string' && g !== '')) {
      throw new TypeError('mint: groups must be a list of non-empty strings');
    }
    if (!Number.isSafeInteger(opts.ttlMs) || opts.ttlMs <= 0)
      throw new TypeError('mint: ttlMs must be a positive integer');
    const now = Math.floor(this.#clock.now() / 1000);
    return new SignJWT({ ...opts.extra, groups: [...opts.groups] })
      .setProtectedHeader({ alg: ALG, kid: this.kid, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setSubject(opts.sub)
      .setAudience(opts.audience ?? 'warden')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + Math.ceil(opts.ttlMs / 1000))
      .setJti(randomUUID())
      .sign(this.#privateKey);
  }

  /** OIDC discovery document. No authorization or token endpoint: tokens come from `warden token`. */
  discoveryDocument(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/jwks.json`,
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [ALG],
      claims_supported: ['iss', 'sub', 'aud', 'iat', 'nbf', 'exp', 'jti', 'groups'],
    };
  }

  /** The public JWKS (never the private key). */
  jwks(): { keys: JWK[] } {
    return { keys: [{ ...this.#publicJwk }] };
  }

  toJSON(): Record<string, unknown> {
    return { issuer: this.issuer, kid: this.kid, algorithm: ALG };
  }
}

async function readOrCreateKey(dataDir: string): Promise<JWK> {
  const file = join(dataDir, DEV_ISSUER_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing) return existing;

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const created: JWK = { ...jwk, kid, alg: ALG };
  // Write aside, then link into place: atomic and never overwrites a key another process made.
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(created)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const winner = await readKeyFile(file);
    if (!winner) throw e;
    return winner;
  } finally {
    await rm(tmp, { force: true });
  }
  return created;
}

async function readKeyFile(file: string): Promise<JWK | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not a JSON key (delete it to create a new dev issuer key)`);
  }
  const k = jwk as JWK;
  if (
    typeof jwk !== 'object' ||
    jwk === null ||
    k.kty !== 'EC' ||
    k.crv !== 'P-256' ||
    !k.d ||
    typeof k.kid !== 'string'
  ) {
    throw new Error(`${file} is not an ES256 private key (delete it to create a new dev issuer key)`);
  }
  // Keep the private key private even if it was copied in with a looser mode.
  await chmod(file, 0o600);
  return k;
}
