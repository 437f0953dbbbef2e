// Typed errors for untrusted wire input: a peer sending garbage gets a stable code, never a crash
// and never a giant allocation.

export type ProtocolErrorCode =
  /** A length field larger than the configured maximum (checked before buffering the frame). */
  | 'frame-too-large'
  /** A length field smaller than the header it must include (or negative). */
  | 'bad-length'
  /** A payload whose content does not match its message type (missing NUL, overrun, bad count). */
  | 'malformed-message';

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

export function isProtocolError(e: unknown, code?: ProtocolErrorCode): e is ProtocolError {
  return e instanceof ProtocolError && (code === undefined || e.code === code);
}
