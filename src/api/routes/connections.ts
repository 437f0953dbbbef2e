import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../gateway/index.js';
import { responses, wrap } from '../schemas.js';
import { visibleConnections } from '../visibility.js';

/** Connections the caller may use or request; others are invisible. */
export function registerConnectionRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get(
    '/connections',
    {
      schema: {
        summary: 'Connections you may use (granted) or request just-in-time access to',
        tags: ['connections'],
        response: responses({ 200: wrap('connections', { type: 'array', items: { $ref: 'Connection#' } }) }),
      },
    },
    async (req) => ({ connections: visibleConnections(gw, req.identity!) }),
  );
}
