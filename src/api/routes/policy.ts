import type { FastifyInstance } from 'fastify';
import { WardenError } from '../../core/errors.js';
import type { Gateway } from '../../gateway/index.js';
import { isAdmin } from '../auth.js';
import { policyTest } from '../../gateway/policy-test.js';
import { responses } from '../schemas.js';

/** Dry-run a decision without touching any target. Testing as someone else needs admin. */
export function registerPolicyRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post<{ Body: { as?: { sub: string; groups?: string[] }; connection: string; input: string } }>(
    '/policy/test',
    {
      schema: {
        summary: 'The decision for one input, without touching the target',
        tags: ['policy'],
        response: responses({ 200: { $ref: 'PolicyTestResult#' } }),
        body: {
          type: 'object',
          required: ['connection', 'input'],
          additionalProperties: false,
          properties: {
            as: {
              type: 'object',
              required: ['sub'],
              additionalProperties: false,
              properties: { sub: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } } },
            },
            connection: { type: 'string' },
            input: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const me = req.identity!;
      const as = req.body.as;
      if (as && as.sub !== me.sub && !isAdmin(gw, me)) {
        throw new WardenError('WARDEN_ACCESS_DENIED', 'testing the policy as another identity needs an admin group');
      }
      const identity = as
        ? {
            sub: as.sub,
            groups: as.groups ?? [],
            issuer: 'policy-test',
            claims: {},
            expiresAt: Number.MAX_SAFE_INTEGER,
          }
        : me;
      return policyTest(
        gw.config,
        gw.policy,
        identity,
        req.body.connection,
        req.body.input,
        gw.approvals.activeGrants(identity),
      );
    },
  );
}
