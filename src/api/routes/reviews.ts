import type { FastifyInstance } from 'fastify';
import { approvalsOf, REVIEW_STATES } from '../../approvals/index.js';
import type { Gateway } from '../../gateway/index.js';
import { idParams, responses, wrap } from '../schemas.js';
import { durationParam, registerDecisionRoutes, stateFilter } from './decisions.js';

/** Longest `?wait=` a client may ask for: below common proxy idle timeouts. */
const MAX_WAIT_MS = 60_000;

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
      const state = stateFilter(req.query.state ?? 'pending', REVIEW_STATES, 'review');
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

  registerDecisionRoutes(app, {
    path: '/reviews',
    tag: 'reviews',
    key: 'review',
    schemaRef: 'Review#',
    noun: 'a review',
    verbs: { approve: approvals.approve.bind(approvals), deny: approvals.deny.bind(approvals) },
  });
}

/** `20s`, `2m`, or bare seconds. */
function waitMs(text: string): number {
  return /^\d+$/.test(text) ? Number(text) * 1000 : durationParam(text, 'wait', '20s');
}
