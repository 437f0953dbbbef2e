/** Thrown by commands to end with a given exit code and a one-line message (no stack trace). */
export class CliExit extends Error {
  constructor(
    readonly code: 0 | 1 | 2,
    message = '',
  ) {
    super(message);
  }
}
