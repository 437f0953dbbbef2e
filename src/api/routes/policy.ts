import type { FastifyInstance } from 'fastify';
import { WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import { policyTest, unknownConnection } from '../../gateway/policy-test.js';
import { loadAnalysis } from '../../protocols/registry.js';
import { isAdmin } from '../auth.js';
import { responses } from '../schemas.js';
import { canSee } from '../visibility.js';

interface TestAs {
  sub: string;
  issuer?: string;
  groups?: string[];
}

/**
 * Dry-run a decision without touching any target. Admins may test as anyone, on any configured
 * connection. Everyone else tests as themselves only: `as` may name their own subject (and issuer)
 * and, if it lists groups, exactly their token's groups (in any order) — any other groups would
 * disclose rules and masking meant for others (403). A connection they cannot see (no standing
 * access and no just-in-time entry, the rule of GET /connections) answers 404 as if it did not exist.
 */
export function registerPolicyRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post<{ Body: { as?: TestAs; connection: string; input: string } }>(
    '/policy/test',
    {
      schema: {
        summary: 'The decision for one input, without touching the target',
        description:
          'Admins may test as any identity. Others may test only as themselves, with exactly their own token groups (403 otherwise); a connection they cannot see answers 404.',
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
              properties: {
                sub: { type: 'string', minLength: 1 },
                issuer: { type: 'string', minLength: 1 },
                groups: { type: 'array', items: { type: 'string' } },
              },
            },
            connection: { type: 'string' },
            input: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const me = req.identity!;
      const { as, connection, input } = req.body;
      const admin = isAdmin(gw, me);
      const identity = admin ? (as ? testIdentity(as, me) : me) : ownIdentity(me, as);
      const conn = gw.connectionConfig(connection);
      const visible = admin ? conn !== undefined : canSee(gw, me, connection);
      if (!visible || !conn) throw unknownConnection(connection);
      await loadAnalysis(conn.type);
      return policyTest(gw.config, gw.policy, identity, connection, input, gw.approvals.activeGrants(identity));
    },
  );
}

/** An admin's "as": that subject (at the admin's own issuer unless named) with exactly the groups given. */
function testIdentity(as: TestAs, me: Identity): Identity {
  return {
    sub: as.sub,
    issuer: as.issuer ?? me.issuer,
    groups: as.groups ?? [],
    claims: {},
    expiresAt: Number.MAX_SAFE_INTEGER,
  };
}

/** A non-admin's "as" must describe the caller; the caller's own verified identity is what is tested. */
function ownIdentity(me: Identity, as: TestAs | undefined): Identity {
  if (!as) return me;
  const foreign =
    as.sub !== me.sub ||
    (as.issuer !== undefined && as.issuer !== me.issuer) ||
    (as.groups !== undefined && !sameGroups(as.groups, me.groups));
  if (foreign) {
    throw new WardenError(
      'WARDEN_ACCESS_DENIED',
      'testing the policy as another identity or with other groups than your token has needs an admin group',
    );
  }
  return me;
}

function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((g) => y.has(g));
}
