// Public face of the identity concern: token → Identity, and the built-in dev issuer.
export { DEFAULT_ALGORITHMS } from './algorithms.js';
export { DEV_ISSUER_KEY_FILE, DevIssuer, type MintOptions } from './dev-issuer.js';
export type { TokenFailure } from './token-error.js';
export { IdentityVerifier, type IdentityVerifierOptions } from './verifier.js';
