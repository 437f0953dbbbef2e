import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../gateway/index.js';
import { requireAdmin } from '../auth.js';
import { responses, wrap } from '../schemas.js';

/** The audit log, for admins: list, verify the hash chain, export as JSON lines. */
export function registerAuditRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get<{ Querystring: { since?: string; limit?: number; type?: string } }>(
    '/audit',
    {
      schema: {
        summary: 'Audit log entries (admins)',
        tags: ['audit'],
        querystring: {
          type: 'object',
          properties: {
            since: { type: 'string', description: 'ISO 8601 time' },
            limit: { type: 'integer', minimum: 1, maximum: 10000 },
            type: { type: 'string', description: 'entry type, e.g. operation' },
          },
        },
        response: responses({ 200: wrap('entries', { type: 'array', items: { $ref: 'AuditRecord#' } }) }),
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

  app.get(
    '/audit/verify',
    {
      schema: {
        summary: 'Verify the audit hash chain (admins)',
        tags: ['audit'],
        response: responses({
          200: {
            type: 'object',
            additionalProperties: true,
            properties: { ok: { type: 'boolean' }, checked: { type: 'integer' } },
            required: ['ok', 'checked'],
          },
        }),
      },
    },
    async (req) => {
      requireAdmin(gw, req);
      return gw.audit.verify();
    },
  );

  app.get(
    '/audit/export',
    {
      schema: {
        summary: 'Export the audit log as JSON lines (admins)',
        tags: ['audit'],
        response: responses({
          200: {
            description: 'one entry per line',
            content: { 'application/x-ndjson': { schema: { type: 'string' } } },
          },
        }),
      },
    },
    async (req, reply) => {
      requireAdmin(gw, req);
      reply.type('application/x-ndjson');
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
      await gw.audit.exportJsonl(reply.raw);
      reply.raw.end();
    },
  );
}
