import type { FastifyInstance } from 'fastify';
import { WardenError } from '../../core/errors.js';
import { principalOf, samePrincipal } from '../../core/principal.js';
import type { DetectorName, Identity, MaskPlan } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import { compileMasker, DETECTOR_NAMES } from '../../masking/index.js';
import { readRecordingMasked, recordingName } from '../../recording/index.js';
import type { Session } from '../../store/index.js';
import { isAdmin } from '../auth.js';
import { idParams, responses, wrap } from '../schemas.js';

/** What the API shows of a session: the recording by name, never the server's path. */
export type SessionView = Omit<Session, 'recordingPath'> & { recording: string };

function view(s: Session): SessionView {
  const { recordingPath, ...rest } = s;
  return { ...rest, recording: recordingName(recordingPath) };
}

/**
 * Recorded sessions: admins see all, everyone else their own, by principal (issuer and sub):
 * the same `sub` at another issuer is someone else. Sessions stored before issuers were
 * recorded (issuer '') are nobody's: admins only.
 */
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
        ...(isAdmin(gw, me) ? {} : principalOf(me)),
      });
      return { sessions: sessions.map(view) };
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
      return { session: view(s) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/sessions/:id/recording',
    {
      schema: {
        summary:
          'The session recording (JSON lines for queries, asciicast v2 for terminals), masked by your own masking plan',
        tags: ['sessions'],
        params: idParams,
        response: responses({
          200: {
            description: 'the recording, with every value masked as the caller’s masking plan for its connection says',
            content: {
              'application/x-ndjson': { schema: { type: 'string' } },
              'application/x-asciicast': { schema: { type: 'string' } },
            },
          },
        }),
      },
    },
    async (req, reply) => {
      const me = req.identity!;
      const s = await visibleSession(gw, me, req.params.id);
      const masker = compileMasker(readerPlan(gw, me, s.connection));
      // A session live on this instance: what it recorded so far is flushed first. The bytes
      // come from its file or, kept in the store, from whichever instance recorded it.
      await gw.recorder.settle(s.id).catch(() => undefined);
      reply.type(s.format === 'asciicast' ? 'application/x-asciicast' : 'application/x-ndjson');
      return reply.send(readRecordingMasked(s.recordingPath, s.format, masker, { db: gw.store.db }));
    },
  );
}

/**
 * The reader's masking plan for the recording's connection: a recording holds what its client
 * received (clear values for an unmasked identity), so it is masked again for whoever reads it.
 * A connection no longer configured has no plan to look up: every detector applies.
 */
export function readerPlan(gw: Gateway, reader: Identity, connection: string): MaskPlan | null {
  if (!gw.connectionConfig(connection)) return { columns: [], detect: [...DETECTOR_NAMES] as DetectorName[] };
  return gw.policy.maskPlan(reader, connection);
}

async function visibleSession(gw: Gateway, me: Identity, id: string): Promise<Session> {
  const s = await gw.store.getSession(id);
  if (!s || (!samePrincipal(s, me) && !isAdmin(gw, me))) {
    throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `no session '${id}'`);
  }
  return s;
}
