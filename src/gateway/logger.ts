import { type Logger, pino } from 'pino';

// Structured JSON logs. Redaction is a second line of defence: code never passes a token,
// password or key to the logger in the first place.
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.WARDEN_LOG_LEVEL ?? 'info',
      base: { svc: 'warden' },
      redact: {
        paths: [
          'token',
          'password',
          '*.token',
          '*.password',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'privateKey',
          '*.privateKey',
        ],
        censor: '[redacted]',
      },
    },
    (opts.destination as pino.DestinationStream | undefined) ?? pino.destination(2),
  );
}
