// Why a COPY's output could not be masked. The proxy ends the COPY for the client with an
// ErrorResponse carrying `sqlstate` and `message` instead of forwarding anything unmasked.

export type CopyMaskErrorCode =
  /** The statement or its options cannot be masked reliably (refused before running). */
  | 'refused'
  /** The COPY's column count or format differs from what was described. */
  | 'shape-mismatch'
  /** The server's COPY data does not parse in the announced format. */
  | 'malformed'
  /** A partial row grew past the carry limit. */
  | 'carry-overflow';

const SQLSTATE: Record<CopyMaskErrorCode, string> = {
  refused: '0A000', // feature_not_supported
  'shape-mismatch': '0A000',
  malformed: '08P01', // protocol_violation
  'carry-overflow': '54000', // program_limit_exceeded
};

export class CopyMaskError extends Error {
  readonly sqlstate: string;

  constructor(
    readonly code: CopyMaskErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CopyMaskError';
    this.sqlstate = SQLSTATE[code];
  }
}

export function isCopyMaskError(e: unknown): e is CopyMaskError {
  return e instanceof CopyMaskError;
}
