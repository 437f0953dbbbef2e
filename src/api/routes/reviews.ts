import type { FastifyInstance } from 'fastify';
import { approvalsOf, REVIEW_STATES } from '../../approvals/index.js';
import { parseDuration } from '../../core/duration.js';
import { WardenError } from '../../core/errors.js';
import type { Gateway } from '../../gateway/index.js';
import type { ReviewState } from '../../store/index.js';
import { idParams, responses, wrap } from '../schemas.js';

/** Longest `?wait=` a client may ask for: below common proxy idle timeouts. */
const MAX_WAIT_MS = 60_000;

const reasonBody = {
  type: 'object',
  properties: { reason: { type: 'string', maxLength: 1000 } },
  additionalProperties: false,
} as const;

/**
 * The approval inbox: approvers see what they may approve, everyone sees their own (same issuer
 * and sub), admins see all; a review you cannot see is "not found" for reading and deciding. `GET /reviews/:id?wait=20s` long-polls until the review leaves `pending`.
 */
export function registerReviewRoutes(app: FastifyInstance, gw: Gateway): void {
  const approvals = approvalsOf(gw.approvals);

  app.get<{ Querystring: { state?: string; limit?: number } }>(
    '/reviews',
    {
      schema: {
        summary: 'Reviews you may act on, and your own (admins: all)',
        tags: ['reviews'],
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', description: `${REVIEW_STATES.join(', ')} or all (default pending)` },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
        response: responses({ 200: wrap('reviews', { type: 'array', items: { $ref: 'Review#' } }) }),
      },
    },
    async (req) => {
      const state = reviewState(req.query.state ?? 'pending');
      return { reviews: await approvals.listReviews(req.identity!, state, req.query.limit ?? 500) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { wait?: string } }>(
    '/reviews/:id',
    {
      schema: {
        summary: 'One review; ?wait=20s long-polls (at most 60 s) until it leaves pending',
        tags: ['reviews'],
        params: idParams,
        querystring: { type: 'object', properties: { wait: { type: 'string', description: 'e.g. 20s, or seconds' } } },
        response: responses({ 200: wrap('review', { $ref: 'Review#' }) }),
      },
    },
    async (req, reply) => {
      const me = req.identity!;
      let review = await approvals.getReview(me, req.params.id);
      if (req.query.wait !== undefined && review.state === 'pending') {
        const ms = Math.min(waitMs(req.query.wait), MAX_WAIT_MS);
        // The client hanging up ends the wait.
        const hangup = new AbortController();
        const onClose = () => hangup.abort();
        reply.raw.once('close', onClose);
        try {
          await approvals.waitForDecision(review.id, ms, hangup.signal);
        } finally {
          reply.raw.off('close', onClose);
        }
        review = await approvals.getReview(me, req.params.id);
      }
      return { review };
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/reviews/:id/approve',
    {
      schema: {
        summary: 'Approve a review (not your own); 404 for a review you cannot see',
        tags: ['reviews'],
        params: idParams,
        body: reasonBody,
        response: responses({ 200: wrap('review', { $ref: 'Review#' }) }),
      },
    },
    async (req) => ({ review: await approvals.approve(req.params.id, req.identity!, req.body?.reason) }),
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/reviews/:id/deny',
    {
      schema: {
        summary: 'Deny a review; 404 for a review you cannot see',
        tags: ['reviews'],
        params: idParams,
        body: reasonBody,
        response: responses({ 200: wrap('review', { $ref: 'Review#' }) }),
      },
    },
    async (req) => ({ review: await approvals.deny(req.params.id, req.identity!, req.body?.reason) }),
  );
}

function reviewState(text: string): ReviewState | undefined {
  if (text === 'all') return undefined;
  if ((REVIEW_STATES as readonly string[]).includes(text)) return text as ReviewState;
  throw new WardenError('WARDEN_USAGE', `unknown review state '${text}' (expected ${REVIEW_STATES.join(', ')} or all)`);
}

/** `20s`, `2m`, or bare seconds. */
function waitMs(text: string): number {
  try {
    return /^\d+$/.test(text) ? Number(text) * 1000 : parseDuration(text);
  } catch {
    throw new WardenError('WARDEN_USAGE', `invalid wait '${text}' (expected e.g. 20s)`);
  }
}
