// The API listener: health, metrics, the dev issuer's discovery + JWKS, and /api/v1.
import Fastify, { type FastifyInstance } from 'fastify';
import type { DevIssuer } from '../identity/index.js';
import type { Gateway } from '../gateway/index.js';
import { authHook } from './auth.js';
import { problem, problemFromError, sendProblem } from './problem.js';
import { registerAccessRoutes } from './routes/access.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerConnectionRoutes } from './routes/connections.js';
import { registerPolicyRoutes } from './routes/policy.js';
import { registerReviewRoutes } from './routes/reviews.js';
import { registerSessionRoutes } from './routes/sessions.js';

export interface ApiOptions {
  gateway: Gateway;
  devIssuer?: DevIssuer | null;
  /** Extra route modules (exec, reviews, MCP…) registered by later front doors. */
  plugins?: ((app: FastifyInstance, gw: Gateway) => void | Promise<void>)[];
}

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const gw = opts.gateway;
  // Fastify's own logger is off: the gateway's pino logger records what matters, and request
  // logs would carry Authorization headers.
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });

  app.setErrorHandler(async (err, _req, reply) => {
    const status = typeof (err as { statusCode?: number }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 0;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, problem(status, 'Bad Request', (err as Error).message, { code: 'WARDEN_USAGE' }));
    }
    const p = problemFromError(err);
    if (p.status >= 500) gw.logger.error({ err: String(err) }, 'api error');
    return sendProblem(reply, p);
  });
  app.setNotFoundHandler(async (req, reply) => sendProblem(reply, problem(404, 'Not Found', `no route ${req.method} ${req.url.split('?')[0]}`)));

  app.get('/healthz', async () => ({ ok: true, sessions: gw.sessions.size }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(gw.metrics.registry.contentType);
    return gw.metrics.registry.metrics();
  });

  const dev = opts.devIssuer;
  if (dev) {
    app.get('/dev/.well-known/openid-configuration', async () => dev.discoveryDocument());
    app.get('/dev/jwks.json', async () => dev.jwks());
  }

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', authHook(gw, 'Bearer realm="warden"'));
      registerConnectionRoutes(v1, gw);
      registerPolicyRoutes(v1, gw);
      registerSessionRoutes(v1, gw);
      registerAuditRoutes(v1, gw);
      registerReviewRoutes(v1, gw);
      registerAccessRoutes(v1, gw);
      for (const p of opts.plugins ?? []) await p(v1, gw);
    },
    { prefix: '/api/v1' },
  );
  return app;
}
