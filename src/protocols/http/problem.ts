// RFC 9457 problem responses of the HTTP front door, in the API's shape (src/api/problem.ts).
import type { ServerResponse } from 'node:http';
import { type Problem, problem, problemFromError } from '../../api/problem.js';
import { isWardenError } from '../../core/errors.js';
import type { Verdict } from '../../gateway/index.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function httpProblem(status: number, detail: string, extra: Record<string, unknown> = {}): Problem {
  return problem(status, TITLES[status] ?? 'Error', detail, extra);
}

/** A problem as raw bytes, for sockets the HTTP parser gave up on. */
export function rawProblem(status: number, detail: string): Buffer {
  return rawProblemOf(httpProblem(status, detail));
}

/** A problem as a whole raw response (then close), for sockets outside the HTTP parser (upgrades). */
export function rawProblemOf(p: Problem, headers: Record<string, string> = {}): Buffer {
  const body = JSON.stringify(p);
  const extra = Object.entries(headers)
    .filter(([k]) => k.toLowerCase() !== 'connection')
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return Buffer.from(
    `HTTP/1.1 ${p.status} ${TITLES[p.status] ?? 'Error'}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

export function sendProblem(res: ServerResponse, p: Problem, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(p);
  res.writeHead(p.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

/** A session refused at open (bad token, no grant, limits): the core's WardenError as a problem. */
export function openProblem(err: unknown): Problem {
  if (isWardenError(err, 'WARDEN_CONNECTION_UNKNOWN')) {
    // Same answer as no access: which connections exist is not told to a caller who cannot use them.
    return httpProblem(403, err.message, { code: 'WARDEN_ACCESS_DENIED' });
  }
  if (isWardenError(err)) return problemFromError(err);
  return httpProblem(401, 'authentication failed', { code: 'WARDEN_TOKEN_INVALID' });
}

/** The problem for a refused Verdict: 403 naming the rule (block), the review (review), 401 (identity). */
export function verdictProblem(v: Verdict): Problem {
  const refusal = v.refusal!;
  const base = { operation: v.op.id, rules: v.decision.rules };
  switch (refusal.kind) {
    case 'review':
      return httpProblem(403, refusal.message, {
        ...base,
        code: 'WARDEN_REVIEW_REQUIRED',
        reviewId: refusal.reviewId,
        approve: `warden reviews approve ${refusal.reviewId ?? '<id>'}`,
        ...(v.decision.review
          ? { approvers: { groups: v.decision.review.groups, count: v.decision.review.count } }
          : {}),
      });
    case 'identity':
      return httpProblem(401, refusal.message, { ...base, code: 'WARDEN_SESSION_ENDED' });
    case 'policy-error':
      return httpProblem(503, refusal.message, { ...base, code: 'WARDEN_POLICY_ERROR' });
    case 'blocked':
      return httpProblem(403, refusal.message, { ...base, code: 'WARDEN_BLOCKED' });
  }
}
