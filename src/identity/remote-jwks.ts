// An issuer's signing keys fetched over HTTP: OIDC discovery (or a configured jwks_uri), then
// the JWKS, cached. Refetched when a token names an unknown `kid` or the cache is old, at most
// once per cooldown (so junk tokens cannot make us hammer the issuer). When the endpoint is
// down, the keys already cached keep working (stale-if-error).
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../core/clock.js';
import { fetchJson } from './fetch-json.js';
import { tokenError } from './token-error.js';

export interface RemoteJwksOptions {
  issuer: string;
  /** Skip discovery and fetch this JWKS. */
  jwksUri?: string;
  clock: Clock;
  fetchTimeoutMs: number;
  /** Minimum time between two fetch attempts. */
  cooldownMs: number;
  /** Cached keys older than this are refreshed on the next token (kept if that fails). */
  maxAgeMs: number;
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

export class RemoteJwks {
  readonly #opts: RemoteJwksOptions;
  #keys: LocalKeySet | undefined;
  #fetchedAt = 0;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;
  #lastError: unknown;
  #jwksUri: string | undefined;
  #pending: Promise<void> | undefined;
  /** Completed JWKS fetches (observability and tests). */
  fetchCount = 0;

  constructor(opts: RemoteJwksOptions) {
    this.#opts = opts;
    this.#jwksUri = opts.jwksUri;
  }

  /** A jose key getter: resolves the key for a token's protected header. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.#keys) {
      await this.#refresh();
      if (!this.#keys) {
        const why = this.#lastError instanceof Error ? this.#lastError.message : 'no usable keys';
        throw tokenError('jwks-unavailable', `cannot fetch the signing keys of issuer ${this.#opts.issuer}: ${why}`, {
          issuer: this.#opts.issuer,
          cause: this.#lastError,
        });
      }
    } else if (this.#opts.clock.now() - this.#fetchedAt >= this.#opts.maxAgeMs) {
      await this.#refresh();
    }
    const keys = this.#keys;
    try {
      return await keys(header, token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
      // Key rotation: the issuer may have published a new key since we fetched.
      await this.#refresh();
      if (this.#keys === keys) throw e;
      return await this.#keys(header, token);
    }
  };

  /** One fetch at a time, at most one attempt per cooldown; failures are remembered, not thrown. */
  async #refresh(): Promise<void> {
    if (this.#pending) return this.#pending;
    const now = this.#opts.clock.now();
    if (now - this.#lastAttemptAt < this.#opts.cooldownMs) return;
    this.#lastAttemptAt = now;
    this.#pending = this.#fetchKeys()
      .then((keys) => {
        this.#keys = keys;
        this.#fetchedAt = this.#opts.clock.now();
        this.#lastError = undefined;
        this.fetchCount++;
      })
      .catch((e: unknown) => {
        this.#lastError = e;
        // The jwks_uri may have moved: rediscover next time (a configured one stays).
        this.#jwksUri = this.#opts.jwksUri;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  async #fetchKeys(): Promise<LocalKeySet> {
    this.#jwksUri ??= await this.#discoverJwksUri();
    const body = await fetchJson(this.#jwksUri, this.#opts.fetchTimeoutMs);
    if (!isObject(body) || !Array.isArray(body.keys)) throw new Error(`${this.#jwksUri} is not a JWKS`);
    const keys = (body.keys as unknown[]).filter(isPublicSigningKey);
    if (keys.length === 0) throw new Error(`${this.#jwksUri} has no public signing keys`);
    return createLocalJWKSet({ keys } satisfies JSONWebKeySet);
  }

  async #discoverJwksUri(): Promise<string> {
    const url = `${this.#opts.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const doc = await fetchJson(url, this.#opts.fetchTimeoutMs);
    if (!isObject(doc)) throw new Error(`${url} is not a discovery document`);
    // OIDC Discovery §4.3: the document must name exactly the issuer we asked.
    if (doc.issuer !== this.#opts.issuer) throw new Error(`${url} names a different issuer`);
    if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) {
      throw new Error(`${url} has no usable jwks_uri`);
    }
    return doc.jwks_uri;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Asymmetric public keys only: a symmetric (`oct`) or private member is never used to verify. */
function isPublicSigningKey(k: unknown): k is JWK {
  if (!isObject(k) || typeof k.kty !== 'string') return false;
  if (!['RSA', 'EC', 'OKP'].includes(k.kty)) return false;
  if ('d' in k) return false;
  return k.use === undefined || k.use === 'sig';
}
