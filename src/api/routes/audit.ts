import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../gateway/index.js';
import { requireAdmin } from '../auth.js';

/** The audit log, for admins: list, verify the hash chain, export as JSON lines. */
export function registerAuditRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get<{ Querystring: { since?: string; limit?: number; type?: string } }>(
    '/audit',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { since: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10000 }, type: { type: 'string' } },
        },
      },
    },
    async (req) => {
      requireAdmin(gw, req);
      const since = req.query.since ? Date.parse(req.query.since) : undefined;
      const entries = await gw.audit.list({
        ...(since !== undefined && !Number.isNaN(since) ? { since } : {}),
        limit: req.query.limit ?? 200,
        ...(req.query.type ? { type: req.query.type } : {}),
      });
      return { entries };
    },
  );

  app.get('/audit/verify', async (req) => {
    requireAdmin(gw, req);
    return gw.audit.verify();
  });

  app.get('/audit/export', async (req, reply) => {
    requireAdmin(gw, req);
    reply.type('application/x-ndjson');
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    await gw.audit.exportJsonl(reply.raw);
    reply.raw.end();
  });
}
