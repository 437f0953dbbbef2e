// Token → Identity. One path for every issuer (configured OIDC issuers and the dev issuer):
// pick the issuer from the unverified `iss` (only to choose keys), check the algorithm
// against the issuer's allow-list, then let jose verify signature, iss, aud, exp and nbf.
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import type { WardenConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import { isWardenError } from '../core/errors.js';
import type { Identity } from '../core/types.js';
import { type AsymmetricAlgorithm, DEFAULT_ALGORITHMS } from './algorithms.js';
import type { DevIssuer } from './dev-issuer.js';
import { groupsFromClaims } from './groups.js';
import { issuerLookupKey } from './issuer-key.js';
import { RemoteJwks } from './remote-jwks.js';
import { quoteUntrusted, tokenError } from './token-error.js';

export interface IdentityVerifierOptions {
  clock?: Clock;
  /**
   * The local dev issuer. Used only when `identity.dev` is true; its keys are then taken from
   * memory (same checks, no HTTP round trip to our own API listener, which may not be up yet).
   * A dev issuer listed under `identity.issuers` goes through discovery + JWKS over HTTP instead.
   */
  devIssuer?: DevIssuer;
  /** Timeout of each discovery / JWKS request. Default 5 s. */
  fetchTimeoutMs?: number;
  /** Minimum time between two JWKS fetches of one issuer. Default 10 s. */
  jwksCooldownMs?: number;
  /** Cached JWKS older than this are refreshed (and kept if that fails). Default 10 min. */
  jwksMaxAgeMs?: number;
}

interface TrustedIssuer {
  issuer: string;
  audience: string | string[];
  groupsClaim: string;
  algorithms: readonly AsymmetricAlgorithm[];
  clockSkewSeconds: number;
  getKey: JWTVerifyGetKey;
  /** Present for issuers whose keys come over HTTP. */
  remote?: RemoteJwks;
}

// A JWT access token is a few KB at most; refuse obvious junk before parsing it.
const MAX_TOKEN_LENGTH = 16 * 1024;

export class IdentityVerifier {
  readonly #clock: Clock;
  readonly #issuers = new Map<string, TrustedIssuer>();

  constructor(config: WardenConfig['identity'], opts: IdentityVerifierOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    for (const c of config.issuers) {
      const key = issuerLookupKey(c.issuer);
      if (this.#issuers.has(key)) throw new TypeError(`issuer ${c.issuer} is configured twice`);
      const remote = new RemoteJwks({
        issuer: c.issuer,
        jwksUri: c.jwksUri,
        clock: this.#clock,
        fetchTimeoutMs: opts.fetchTimeoutMs ?? 5000,
        cooldownMs: opts.jwksCooldownMs ?? 10_000,
        maxAgeMs: opts.jwksMaxAgeMs ?? 600_000,
      });
      this.#issuers.set(key, {
        issuer: c.issuer,
        audience: c.audience,
        groupsClaim: c.groupsClaim,
        algorithms: c.algorithms ?? DEFAULT_ALGORITHMS,
        clockSkewSeconds: c.clockSkew,
        getKey: remote.getKey,
        remote,
      });
    }
    if (config.dev) {
      if (!opts.devIssuer) throw new TypeError('identity.dev is on but no DevIssuer was passed to IdentityVerifier');
      const key = issuerLookupKey(opts.devIssuer.issuer);
      if (!this.#issuers.has(key)) {
        this.#issuers.set(key, {
          issuer: opts.devIssuer.issuer,
          audience: 'warden',
          groupsClaim: 'groups',
          algorithms: [opts.devIssuer.algorithm],
          clockSkewSeconds: 30,
          getKey: createLocalJWKSet(opts.devIssuer.jwks()),
        });
      }
    }
  }

  /** Issuers this verifier trusts, as configured. */
  get issuers(): string[] {
    return [...this.#issuers.values()].map((i) => i.issuer);
  }

  /** Completed JWKS fetches for an issuer (0 for in-memory keys); for health checks and tests. */
  jwksFetchCount(issuer: string): number {
    return this.#issuers.get(issuerLookupKey(issuer))?.remote?.fetchCount ?? 0;
  }

  async verify(token: string): Promise<Identity> {
    if (typeof token !== 'string') throw new TypeError('verify() expects the token as a string');
    const { header, unverified } = decodeUnverified(token);
    if (header.alg === 'none') throw tokenError('alg-none', "unsigned tokens (alg 'none') are not accepted");

    if (typeof unverified.iss !== 'string' || unverified.iss === '') {
      throw tokenError('malformed', 'token is malformed: no iss claim');
    }
    const trusted = this.#issuers.get(issuerLookupKey(unverified.iss));
    if (!trusted) {
      throw tokenError('unknown-issuer', `token issuer '${quoteUntrusted(unverified.iss)}' is not configured`);
    }
    if (!(trusted.algorithms as readonly unknown[]).includes(header.alg)) {
      throw tokenError(
        'alg-not-allowed',
        `token algorithm '${quoteUntrusted(header.alg)}' is not allowed for issuer ${trusted.issuer}`,
        { issuer: trusted.issuer },
      );
    }

    const payload = await this.#verifyWithIssuer(token, trusted);
    return toIdentity(payload, trusted);
  }

  async #verifyWithIssuer(token: string, trusted: TrustedIssuer): Promise<JWTPayload> {
    const options = {
      issuer: trusted.issuer,
      audience: trusted.audience,
      algorithms: [...trusted.algorithms],
      clockTolerance: trusted.clockSkewSeconds,
      currentDate: new Date(this.#clock.now()),
      requiredClaims: ['exp', 'sub'],
    };
    try {
      return (await jwtVerify(token, trusted.getKey, options)).payload;
    } catch (e) {
      if (e instanceof errors.JWKSMultipleMatchingKeys) {
        // No `kid` and several keys fit the algorithm: try each (jose hands us the candidates).
        let last: unknown = e;
        for await (const key of e) {
          try {
            return (await jwtVerify(token, key, options)).payload;
          } catch (inner) {
            last = inner;
            if (!(inner instanceof errors.JWSSignatureVerificationFailed)) break;
          }
        }
        throw toTokenError(last, trusted);
      }
      throw toTokenError(e, trusted);
    }
  }
}

function decodeUnverified(token: string): { header: ProtectedHeaderParameters; unverified: JWTPayload } {
  if (token.length > MAX_TOKEN_LENGTH) throw tokenError('malformed', 'token is malformed: too long');
  try {
    return { header: decodeProtectedHeader(token), unverified: decodeJwt(token) };
  } catch {
    throw tokenError('malformed', 'token is malformed: not a signed JWT');
  }
}

function toIdentity(payload: JWTPayload, trusted: TrustedIssuer): Identity {
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    throw tokenError('malformed', 'token is malformed: sub is not a non-empty string', { issuer: trusted.issuer });
  }
  const subProblem = subjectProblem(payload.sub);
  if (subProblem) throw tokenError('malformed', `token is malformed: sub ${subProblem}`, { issuer: trusted.issuer });
  const groups = groupsFromClaims(payload, trusted.groupsClaim);
  if (!groups.ok) throw tokenError('malformed', `token is malformed: ${groups.problem}`, { issuer: trusted.issuer });
  const identity: Identity = {
    sub: payload.sub,
    issuer: trusted.issuer,
    groups: groups.groups,
    claims: { ...payload },
    expiresAt: (payload.exp as number) * 1000,
  };
  if (typeof payload.jti === 'string' && payload.jti !== '') identity.tokenId = payload.jti;
  return identity;
}

// Control characters: C0, DEL, C1, and the line/paragraph separators. Bidi controls:
// embeddings/overrides (U+202A–U+202E), isolates (U+2066–U+2069) and the marks LRM, RLM, ALM.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/u;
/** OIDC allows 255 ASCII characters; some issuers (Kubernetes service accounts) go longer. */
const MAX_SUB_LENGTH = 1024;

/**
 * Why a `sub` cannot name a principal, or null. Subjects compare exactly (case-sensitive, as
 * OIDC defines them), so anything that makes two subjects look alike to a person or a terminal
 * (`dba-1` vs `'dba-1 '`, a hidden escape, reversed text) is refused at the door rather than
 * normalized into someone else.
 */
export function subjectProblem(sub: string): string | null {
  if (sub.length > MAX_SUB_LENGTH) return `is longer than ${MAX_SUB_LENGTH} characters`;
  if (/\p{Cs}/u.test(sub)) return 'is not well-formed Unicode (a lone surrogate)';
  if (/^\s|\s$/u.test(sub)) return 'has leading or trailing whitespace';
  const control = CONTROL.exec(sub)?.[0];
  if (control !== undefined) return `contains a control character (${codePoint(control)})`;
  const bidi = BIDI.exec(sub)?.[0];
  if (bidi !== undefined) return `contains a bidirectional control character (${codePoint(bidi)})`;
  return null;
}

function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** jose's failure → our stable reason. Unknown failures are `malformed`, never a pass. */
function toTokenError(e: unknown, trusted: TrustedIssuer): Error {
  if (isWardenError(e)) return e;
  const issuer = trusted.issuer;
  const at = (claim: unknown) => (typeof claim === 'number' ? new Date(claim * 1000).toISOString() : 'an invalid time');
  if (e instanceof errors.JWTExpired) {
    return tokenError('expired', `token expired at ${at(e.payload.exp)}`, { issuer });
  }
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf' && e.reason === 'check_failed') {
      return tokenError('not-yet-valid', `token is not valid before ${at(e.payload.nbf)}`, { issuer });
    }
    if (e.claim === 'iss') {
      return tokenError('wrong-issuer', `token issuer does not exactly match the configured issuer ${issuer}`, {
        issuer,
      });
    }
    if (e.claim === 'aud') {
      const want = Array.isArray(trusted.audience) ? trusted.audience.join("', '") : trusted.audience;
      return tokenError('wrong-audience', `token audience does not include '${want}'`, { issuer });
    }
    return tokenError('malformed', `token is malformed: ${e.message}`, { issuer });
  }
  if (e instanceof errors.JOSEAlgNotAllowed) {
    return tokenError('alg-not-allowed', `token algorithm is not allowed for issuer ${issuer}`, { issuer });
  }
  if (e instanceof errors.JWKSNoMatchingKey) {
    return tokenError('unknown-kid', `no key in the JWKS of issuer ${issuer} matches the token's kid and alg`, {
      issuer,
    });
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return tokenError('bad-signature', 'token signature is not valid', { issuer });
  }
  if (e instanceof errors.JOSEError) return tokenError('malformed', `token is malformed: ${e.message}`, { issuer });
  // Not a token problem (a bug, an aborted process): surface it; the caller still refuses.
  return e instanceof Error ? e : new Error(String(e));
}
