// The API listener: health, metrics, the dev issuer's discovery + JWKS, /api/v1 (REST, with its
// OpenAPI document) and /mcp (MCP over Streamable HTTP).
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import type { Gateway } from '../gateway/index.js';
import type { DevIssuer } from '../identity/index.js';
import { PUBLIC_BODY_LIMIT, requestGate } from './auth.js';
import { registerConsole } from './console/routes.js';
import { useDepthLimitedJson } from './json-body.js';
import { mcpChallenge } from './mcp/metadata.js';
import { registerMcp } from './mcp/route.js';
import { API_PREFIX, openApiOptions } from './openapi.js';
import { problem, problemFromError, sendProblem } from './problem.js';
import { publicOrigin } from './public-origin.js';
import { registerAccessRoutes } from './routes/access.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerConnectionRoutes } from './routes/connections.js';
import { registerExecRoutes } from './routes/exec.js';
import { registerPolicyRoutes } from './routes/policy.js';
import { registerReviewRoutes } from './routes/reviews.js';
import { registerRevocationRoutes } from './routes/revocations.js';
import { registerSessionRoutes } from './routes/sessions.js';
import { registerSshRoutes } from './routes/ssh.js';
import { responses, SCHEMAS } from './schemas.js';

export interface ApiOptions {
  gateway: Gateway;
  devIssuer?: DevIssuer | null;
  /** Extra route modules registered under /api/v1 by later front doors. */
  plugins?: ((app: FastifyInstance, gw: Gateway) => void | Promise<void>)[];
  /** Bound ports by front door, filled as the listeners bind (GET /ssh names the SSH one). */
  ports?: Readonly<Record<string, number>>;
  /** Called for every route as it is registered (tests use it to check the OpenAPI document). */
  onRoute?: (route: RouteOptions) => void;
}

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export async function buildApi(opts: ApiOptions): Promise<FastifyInstance> {
  const gw = opts.gateway;
  // Fastify's own logger is off: the gateway's pino logger records what matters, and request
  // logs would carry Authorization headers.
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
  if (opts.onRoute) app.addHook('onRoute', opts.onRoute);
  useDepthLimitedJson(app);
  const origin = publicOrigin(gw.config, () => app.server.address());
  if (origin.onlyLoopback)
    gw.logger.warn(
      'listen.api is a wildcard address and listen.publicUrl is not set: the API answers only loopback Host names',
    );
  // Before any body is read: Host allow-list, then the bearer token (routes opt out by config).
  app.addHook(
    'onRequest',
    requestGate(gw, {
      origin,
      mcpChallenge: (error) => mcpChallenge(origin, error),
      metricsToken: gw.config.metrics?.token,
    }),
  );
  // `Expect: 100-continue`: Node would answer 100 at once and invite the body of a request that
  // is refused unread; the gate decides first, and only a request it let through gets its 100.
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
  app.addHook('onRequest', async (req, reply) => {
    if (/100-continue/i.test(req.headers.expect ?? '') && !reply.sent) reply.raw.writeContinue();
  });
  // Before any route: the plugin collects every route's schema into the document.
  await app.register(swagger, openApiOptions(VERSION));
  for (const s of SCHEMAS) app.addSchema(s);

  app.setErrorHandler(async (err, _req, reply) => {
    const status =
      typeof (err as { statusCode?: number }).statusCode === 'number' ? (err as { statusCode: number }).statusCode : 0;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, problem(status, 'Bad Request', (err as Error).message, { code: 'WARDEN_USAGE' }));
    }
    const p = problemFromError(err);
    if (p.status >= 500) gw.logger.error({ err }, 'api error');
    return sendProblem(reply, p);
  });
  app.setNotFoundHandler(async (req, reply) =>
    sendProblem(reply, problem(404, 'Not Found', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );

  const publicRoute = { config: { auth: 'public' as const }, bodyLimit: PUBLIC_BODY_LIMIT };
  const probeRoute = { config: { auth: 'public' as const, anyHost: true }, bodyLimit: PUBLIC_BODY_LIMIT };
  app.get('/healthz', probeRoute, async () => ({ ok: true, sessions: gw.sessions.size }));
  app.get(
    '/metrics',
    { config: { auth: 'metrics', anyHost: true }, bodyLimit: PUBLIC_BODY_LIMIT },
    async (_req, reply) => {
      reply.type(gw.metrics.registry.contentType);
      return gw.metrics.registry.metrics();
    },
  );

  const dev = opts.devIssuer;
  if (dev) {
    app.get('/dev/.well-known/openid-configuration', publicRoute, async () => dev.discoveryDocument());
    app.get('/dev/jwks.json', publicRoute, async () => dev.jwks());
  }

  registerConsole(app, gw, dev ?? null);
  registerMcp(app, gw, { devIssuer: dev ?? null, version: VERSION, origin });

  await app.register(
    async (v1) => {
      v1.get(
        '/openapi.json',
        {
          schema: {
            summary: 'This OpenAPI document',
            tags: ['meta'],
            response: responses({ 200: { type: 'object', additionalProperties: true } }),
          },
        },
        async (_req, reply) => reply.type('application/json').send(JSON.stringify(app.swagger())),
      );
      registerConnectionRoutes(v1, gw);
      registerExecRoutes(v1, gw);
      registerPolicyRoutes(v1, gw);
      registerSessionRoutes(v1, gw);
      registerAuditRoutes(v1, gw);
      registerReviewRoutes(v1, gw);
      registerAccessRoutes(v1, gw);
      registerRevocationRoutes(v1, gw);
      registerSshRoutes(v1, gw, opts.ports ?? {});
      for (const p of opts.plugins ?? []) await p(v1, gw);
    },
    { prefix: API_PREFIX },
  );
  return app;
}
