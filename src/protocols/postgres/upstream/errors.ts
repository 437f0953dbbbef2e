// Errors from talking to the upstream PostgreSQL server. A server ErrorResponse keeps its SQLSTATE
// and text (servers never echo the password); nothing here ever includes the password.
import type { ErrorNotice } from '../wire/index.js';

export type UpstreamErrorCode =
  /** Refused, unreachable, timed out, or closed during the handshake. */
  | 'target-unavailable'
  /** The server answered with an ErrorResponse (see `sqlstate`). */
  | 'server-error'
  /** TLS was required but the server does not offer it. */
  | 'tls-unavailable'
  /** The server asked for an authentication method Warden does not implement. */
  | 'auth-unsupported'
  /** SCRAM exchange failed on the client side (bad server proof, malformed server message). */
  | 'auth-failed'
  /** The server sent bytes that do not follow the protocol. */
  | 'protocol-error'
  /** The connection closed or failed after it was established. */
  | 'connection-closed';

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  /** SQLSTATE of a server ErrorResponse. */
  readonly sqlstate: string | undefined;
  /** The full ErrorResponse, for forwarding to a client. */
  readonly notice: ErrorNotice | undefined;
  constructor(code: UpstreamErrorCode, message: string, options?: { cause?: unknown; notice?: ErrorNotice }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UpstreamError';
    this.code = code;
    this.notice = options?.notice;
    this.sqlstate = options?.notice?.code;
  }
}

export function serverError(notice: ErrorNotice): UpstreamError {
  return new UpstreamError('server-error', `${notice.severity || 'ERROR'} ${notice.code}: ${notice.message}`, {
    notice,
  });
}

export function isUpstreamError(e: unknown, code?: UpstreamErrorCode): e is UpstreamError {
  return e instanceof UpstreamError && (code === undefined || e.code === code);
}
