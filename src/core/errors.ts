// One error catalogue (fastify's FST_ERR_* idea): every user-facing failure has a stable code.
// A user error is printed as one line, never with a stack trace.
export const ERRORS = {
  WARDEN_CONFIG_INVALID: 'the configuration is invalid',
  WARDEN_CONFIG_UNREADABLE: 'the configuration file cannot be read',
  WARDEN_SECRET_UNRESOLVED: 'a secret reference cannot be resolved',
  WARDEN_TOKEN_INVALID: 'the identity token is not valid',
  WARDEN_TOKEN_EXPIRED: 'the identity token has expired',
  WARDEN_TOKEN_REVOKED: 'the identity token was revoked',
  WARDEN_ISSUER_UNKNOWN: 'the token issuer is not configured',
  WARDEN_CONNECTION_UNKNOWN: 'no such connection',
  WARDEN_ACCESS_DENIED: 'no access grant for this connection',
  WARDEN_POLICY_ERROR: 'the policy could not be evaluated',
  WARDEN_AUDIT_WRITE_FAILED: 'the audit record could not be written',
  WARDEN_TARGET_UNAVAILABLE: 'the target cannot be reached',
  WARDEN_TOO_MANY_CONNECTIONS: 'too many connections',
  WARDEN_REVIEW_NOT_FOUND: 'no such review',
  WARDEN_REVIEW_FORBIDDEN: 'not allowed to act on this review',
  WARDEN_ALREADY_DECIDED: 'the review or access request is already decided',
  WARDEN_USAGE: 'invalid usage',
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class WardenError extends Error {
  readonly code: ErrorCode;
  /** Structured detail safe to show to users (never a secret). */
  readonly detail: Record<string, unknown>;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; detail?: Record<string, unknown> }) {
    super(message ?? ERRORS[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WardenError';
    this.code = code;
    this.detail = options?.detail ?? {};
  }
}

export function isWardenError(e: unknown, code?: ErrorCode): e is WardenError {
  return e instanceof WardenError && (code === undefined || e.code === code);
}
