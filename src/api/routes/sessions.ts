import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { WardenError } from '../../core/errors.js';
import type { Gateway } from '../../gateway/index.js';
import { isAdmin } from '../auth.js';
import { idParams, responses, wrap } from '../schemas.js';

/** Recorded sessions: admins see all, everyone else their own. */
export function registerSessionRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get<{ Querystring: { limit?: number } }>(
    '/sessions',
    {
      schema: {
        summary: 'Recorded sessions: yours, or all for admins',
        tags: ['sessions'],
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } } },
        response: responses({ 200: wrap('sessions', { type: 'array', items: { $ref: 'Session#' } }) }),
      },
    },
    async (req) => {
      const me = req.identity!;
      const sessions = await gw.store.listSessions({
        limit: req.query.limit ?? 100,
        ...(isAdmin(gw, me) ? {} : { sub: me.sub }),
      });
      return { sessions };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/sessions/:id',
    {
      schema: {
        summary: 'One recorded session',
        tags: ['sessions'],
        params: idParams,
        response: responses({ 200: wrap('session', { $ref: 'Session#' }) }),
      },
    },
    async (req) => {
      const s = await visibleSession(gw, req.identity!, req.params.id);
      return { session: s };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/sessions/:id/recording',
    {
      schema: {
        summary: 'The session recording (JSON lines for queries, asciicast v2 for terminals)',
        tags: ['sessions'],
        params: idParams,
        response: responses({
          200: {
            description: 'the recording',
            content: {
              'application/x-ndjson': { schema: { type: 'string' } },
              'application/x-asciicast': { schema: { type: 'string' } },
            },
          },
        }),
      },
    },
    async (req, reply) => {
      const s = await visibleSession(gw, req.identity!, req.params.id);
      reply.type(s.format === 'asciicast' ? 'application/x-asciicast' : 'application/x-ndjson');
      return reply.send(createReadStream(s.recordingPath));
    },
  );
}

async function visibleSession(gw: Gateway, me: { sub: string; groups: string[] }, id: string) {
  const s = await gw.store.getSession(id);
  if (!s || (s.sub !== me.sub && !isAdmin(gw, me as never))) {
    throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `no session '${id}'`);
  }
  return s;
}
