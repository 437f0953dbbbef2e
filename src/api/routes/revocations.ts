// Revocations (admins only): a token id, or every token of a principal (issuer, sub). Effective
// at once on this gateway (the in-memory cache) and within the cache's refresh interval on the
// others; a live session of a revoked identity is cut at its next operation.
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../../core/errors.js';
import type { Gateway } from '../../gateway/index.js';
import { issuerLookupKey } from '../../identity/issuer-key.js';
import type { Revocation } from '../../store/index.js';
import { requireAdmin } from '../auth.js';
import { responses, wrap } from '../schemas.js';

export interface RevokeBody {
  tokenId?: string;
  sub?: string;
  issuer?: string;
  reason?: string;
}

const revokeBody = {
  type: 'object',
  description: 'Exactly one of tokenId and sub. issuer may be omitted when the gateway trusts exactly one issuer.',
  properties: {
    tokenId: { type: 'string', minLength: 1, maxLength: 1000, description: 'a token id (jti)' },
    sub: { type: 'string', minLength: 1, maxLength: 1000, description: 'a subject: every token of (issuer, sub)' },
    issuer: {
      type: 'string',
      minLength: 1,
      maxLength: 2000,
      description: 'a configured issuer (the dev issuer counts)',
    },
    reason: { type: 'string', maxLength: 1000 },
  },
  additionalProperties: false,
} as const;

export function registerRevocationRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get<{ Querystring: { limit?: number } }>(
    '/revocations',
    {
      schema: {
        summary: 'Revoked tokens and principals, newest first (admins)',
        tags: ['revocations'],
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10000 } } },
        response: responses({ 200: wrap('revocations', { type: 'array', items: { $ref: 'Revocation#' } }) }),
      },
    },
    async (req) => {
      requireAdmin(gw, req);
      return { revocations: await gw.store.listRevocations({ limit: req.query.limit ?? 1000 }) };
    },
  );

  app.post<{ Body: RevokeBody }>(
    '/revocations',
    {
      schema: {
        summary: 'Revoke a token id, or every token of a subject of one issuer (admins)',
        tags: ['revocations'],
        body: revokeBody,
        response: responses({ 201: wrap('revocation', { $ref: 'Revocation#' }) }),
      },
    },
    async (req, reply) => {
      const admin = requireAdmin(gw, req);
      const body = req.body ?? {};
      if ((body.tokenId === undefined) === (body.sub === undefined)) {
        throw new WardenError('WARDEN_USAGE', 'name exactly one of tokenId and sub');
      }
      const issuer = resolveIssuer(gw.verifier.issuers, body.issuer, body.sub !== undefined);
      const revocation: Revocation = {
        kind: body.sub !== undefined ? 'sub' : 'token',
        value: (body.sub ?? body.tokenId) as string,
        ...(issuer !== undefined ? { issuer } : {}),
        at: gw.clock.now(),
        reason: body.reason ?? '',
      };
      // Revoke first, then audit: if the audit write fails the caller gets an error, but the
      // revocation already stands (refusing it would leave the identity working).
      await gw.store.revoke(revocation);
      gw.revocations.add(
        revocation.kind === 'sub'
          ? { sub: revocation.value, ...(issuer !== undefined ? { issuer } : {}) }
          : { tokenId: revocation.value, ...(issuer !== undefined ? { issuer } : {}) },
      );
      await gw.audit.append({
        type: 'revocation',
        actor: admin.sub,
        data: {
          kind: revocation.kind,
          value: revocation.value,
          issuer: issuer ?? null,
          reason: revocation.reason,
          by: { sub: admin.sub, issuer: admin.issuer },
        },
      });
      gw.logger.info({ kind: revocation.kind, issuer: issuer ?? null, by: admin.sub }, 'revocation recorded');
      return reply.code(201).send({ revocation });
    },
  );
}

/**
 * The issuer a revocation names, as configured. A named issuer must be one the gateway trusts (a
 * typo must not silently revoke nothing). Without one: a subject needs it unless exactly one
 * issuer is trusted; a token id then covers any issuer's token with that id.
 */
export function resolveIssuer(
  trusted: readonly string[],
  given: string | undefined,
  forSubject: boolean,
): string | undefined {
  if (given !== undefined) {
    const k = issuerLookupKey(given);
    const match = trusted.find((t) => issuerLookupKey(t) === k);
    if (!match) {
      throw new WardenError(
        'WARDEN_USAGE',
        `issuer '${given}' is not configured (configured: ${trusted.join(', ') || 'none'})`,
      );
    }
    return match;
  }
  if (trusted.length === 1) return trusted[0];
  if (forSubject) {
    throw new WardenError(
      'WARDEN_USAGE',
      `a subject is revoked per issuer and ${trusted.length} issuers are configured; name one with --issuer (${trusted.join(', ')})`,
    );
  }
  return undefined;
}
