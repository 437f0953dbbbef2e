import type { FastifyInstance } from 'fastify';
import { ACCESS_STATES, approvalsOf } from '../../approvals/index.js';
import type { Gateway } from '../../gateway/index.js';
import { idParams, responses, wrap } from '../schemas.js';
import { durationParam, registerDecisionRoutes, stateFilter } from './decisions.js';

interface NewAccessRequest {
  connection: string;
  /** `30m`, `2h`, … or milliseconds. */
  duration: string | number;
  reason: string;
}

/**
 * Just-in-time access: request, list, approve, deny, revoke. Visibility as for reviews: your
 * own (same issuer and sub), those you may approve, everything for admins; anything else is
 * "not found", for reading and deciding alike.
 */
export function registerAccessRoutes(app: FastifyInstance, gw: Gateway): void {
  const approvals = approvalsOf(gw.approvals);

  app.post<{ Body: NewAccessRequest }>(
    '/access-requests',
    {
      schema: {
        summary: 'Request just-in-time access to a connection',
        tags: ['access'],
        response: responses({ 201: wrap('request', { $ref: 'AccessRequest#' }) }),
        body: {
          type: 'object',
          required: ['connection', 'duration', 'reason'],
          properties: {
            connection: { type: 'string', minLength: 1, maxLength: 200 },
            duration: {
              anyOf: [
                { type: 'string', minLength: 2 },
                { type: 'integer', minimum: 1 },
              ],
            },
            reason: { type: 'string', minLength: 1, maxLength: 1000 },
          },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const { connection, duration, reason } = req.body;
      const request = await approvals.requestAccess(req.identity!, connection, durationMs(duration), reason);
      reply.code(201);
      return { request };
    },
  );

  app.get<{ Querystring: { state?: string; limit?: number } }>(
    '/access-requests',
    {
      schema: {
        summary: 'Access requests: yours, those you may approve (admins: all)',
        tags: ['access'],
        querystring: {
          type: 'object',
          properties: {
            state: { type: 'string', description: `${ACCESS_STATES.join(', ')} or all (default all)` },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
        response: responses({ 200: wrap('requests', { type: 'array', items: { $ref: 'AccessRequest#' } }) }),
      },
    },
    async (req) => {
      const state = stateFilter(req.query.state ?? 'all', ACCESS_STATES, 'access request');
      return { requests: await approvals.listAccess(req.identity!, state, req.query.limit ?? 500) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/access-requests/:id',
    {
      schema: {
        summary: 'One access request',
        tags: ['access'],
        params: idParams,
        response: responses({ 200: wrap('request', { $ref: 'AccessRequest#' }) }),
      },
    },
    async (req) => ({ request: await approvals.getAccess(req.identity!, req.params.id) }),
  );

  registerDecisionRoutes(app, {
    path: '/access-requests',
    tag: 'access',
    key: 'request',
    schemaRef: 'AccessRequest#',
    noun: 'an access request',
    verbs: {
      approve: approvals.approveAccess.bind(approvals),
      deny: approvals.denyAccess.bind(approvals),
      revoke: approvals.revokeAccess.bind(approvals),
    },
  });
}

/** `30m`, `2h`, … or milliseconds. */
function durationMs(d: string | number): number {
  return typeof d === 'number' ? d : durationParam(d, 'duration', '30m, 2h');
}
