// RFC 9457 problem details: every API error has this shape, with Warden's stable error code.
import type { FastifyReply } from 'fastify';
import { type ErrorCode, WardenError } from '../core/errors.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code?: string;
  [extra: string]: unknown;
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  WARDEN_TOKEN_INVALID: 401,
  WARDEN_TOKEN_EXPIRED: 401,
  WARDEN_TOKEN_REVOKED: 401,
  WARDEN_ISSUER_UNKNOWN: 401,
  WARDEN_CONNECTION_UNKNOWN: 404,
  WARDEN_ACCESS_DENIED: 403,
  WARDEN_REVIEW_NOT_FOUND: 404,
  WARDEN_REVIEW_FORBIDDEN: 403,
  WARDEN_ALREADY_DECIDED: 409,
  WARDEN_USAGE: 400,
  WARDEN_TARGET_UNAVAILABLE: 502,
  WARDEN_AUDIT_WRITE_FAILED: 503,
  WARDEN_TOO_MANY_CONNECTIONS: 429,
};

export function problem(status: number, title: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return { type: 'about:blank', title, status, detail, ...extra };
}

export function problemFromError(err: unknown): Problem {
  if (err instanceof WardenError) {
    const status = STATUS_BY_CODE[err.code] ?? 400;
    return problem(status, titleFor(status), err.message, { code: err.code, ...pickSafe(err.detail) });
  }
  return problem(500, 'Internal Server Error', 'the gateway failed to handle the request');
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type('application/problem+json').send(p);
}

function titleFor(status: number): string {
  return (
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      409: 'Conflict',
      413: 'Payload Too Large',
      421: 'Misdirected Request',
      429: 'Too Many Requests',
      502: 'Bad Gateway',
      503: 'Service Unavailable',
    }[status] ?? 'Error'
  );
}

function pickSafe(detail: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(detail)) {
    if (/token|password|secret|key/i.test(k)) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}
