// JWS algorithms an issuer may use: asymmetric only. `none` and HS* are never accepted: an HS*
// token "signed" with the issuer's public key as the HMAC secret is the classic confusion attack.
import type { IssuerConfig } from '../config/schema.js';

export type AsymmetricAlgorithm = NonNullable<IssuerConfig['algorithms']>[number];

export const DEFAULT_ALGORITHMS: readonly AsymmetricAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

const ASYMMETRIC = new Set<string>(DEFAULT_ALGORITHMS);

export function isAsymmetricAlgorithm(alg: unknown): alg is AsymmetricAlgorithm {
  return typeof alg === 'string' && ASYMMETRIC.has(alg);
}
