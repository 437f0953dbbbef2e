// Every way a token can fail, as a stable reason string (detail.reason), mapped to one
// WardenError code. Messages are one line and never contain the token.
import { WardenError } from '../core/errors.js';

export type TokenFailure =
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'alg-none'
  | 'alg-not-allowed'
  | 'unknown-kid'
  | 'bad-signature'
  | 'malformed'
  | 'unknown-issuer'
  | 'jwks-unavailable';

export function tokenError(
  reason: TokenFailure,
  message: string,
  extra: { issuer?: string; cause?: unknown } = {},
): WardenError {
  const code =
    reason === 'expired'
      ? 'WARDEN_TOKEN_EXPIRED'
      : reason === 'unknown-issuer'
        ? 'WARDEN_ISSUER_UNKNOWN'
        : 'WARDEN_TOKEN_INVALID';
  const detail: Record<string, unknown> = { reason };
  if (extra.issuer !== undefined) detail.issuer = extra.issuer;
  return new WardenError(code, message, { cause: extra.cause, detail });
}

/** Untrusted text (a claim value) shortened and made single-line before it goes in a message. */
export function quoteUntrusted(value: unknown, max = 120): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const line = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
