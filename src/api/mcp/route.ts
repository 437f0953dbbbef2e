// /mcp (Streamable HTTP) and its RFC 9728 metadata. The request gate (auth.ts) verified this
// request's bearer token before its body was read; a session belongs to the principal (issuer,
// sub) that opened it, and each call acts with its own token's identity.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Gateway } from '../../gateway/index.js';
import type { DevIssuer } from '../../identity/index.js';
import { bearerToken, PUBLIC_BODY_LIMIT } from '../auth.js';
import { problem, sendProblem } from '../problem.js';
import type { PublicOrigin } from '../public-origin.js';
import { METADATA_PATH, protectedResourceMetadata } from './metadata.js';
import type { McpSessions } from './sessions.js';

export interface McpOptions {
  devIssuer?: DevIssuer | null;
  version: string;
  origin: PublicOrigin;
}

/** What /mcp needs from the MCP SDK, loaded at the first /mcp request (the SDK costs ~25 MB RSS). */
interface McpRuntime {
  sessions: McpSessions;
  isInitializeRequest(body: unknown): boolean;
}

export function registerMcp(app: FastifyInstance, gw: Gateway, opts: McpOptions): void {
  let runtime: Promise<McpRuntime> | undefined;
  const loadRuntime = (): Promise<McpRuntime> =>
    (runtime ??= (async () => {
      const [{ McpSessions }, { buildMcpServer }, { isInitializeRequest }] = await Promise.all([
        import('./sessions.js'),
        import('./tools.js'),
        import('@modelcontextprotocol/sdk/types.js'),
      ]);
      const sessions: McpSessions = new McpSessions(gw, () =>
        buildMcpServer({ gw, version: opts.version, session: (id) => (id ? sessions.get(id) : undefined) }),
      );
      return { sessions, isInitializeRequest };
    })().catch((error: unknown) => {
      runtime = undefined; // a later request tries again
      throw error;
    }));
  // Before the listener stops: end open SSE streams and the sessions' front-door clients.
  app.addHook('preClose', async () => {
    if (runtime) await (await runtime.catch(() => undefined))?.sessions.closeAll();
  });

  const metadata = async () => protectedResourceMetadata(gw, opts.devIssuer, opts.origin);
  const publicRoute = { config: { auth: 'public' as const }, bodyLimit: PUBLIC_BODY_LIMIT };
  app.get(METADATA_PATH, publicRoute, metadata);
  app.get(`${METADATA_PATH}/mcp`, publicRoute, metadata);

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const identity = req.identity;
    const token = bearerToken(req);
    // The gate let nothing else through; fail closed should that ever change.
    if (!identity || !token)
      return sendProblem(reply, problem(401, 'Unauthorized', 'not authenticated', { code: 'WARDEN_TOKEN_INVALID' }));

    const { sessions, isInitializeRequest } = await loadRuntime();
    const sid = req.headers['mcp-session-id'];
    let session = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (typeof sid === 'string') {
      // Another principal's session id is as good as an unknown one.
      if (!session?.belongsTo(identity)) return jsonRpcError(reply, 404, -32001, 'Session not found');
      session.touch();
    } else if (req.method === 'POST' && isInitializeRequest(req.body)) {
      session = await sessions.open(identity);
    } else {
      return jsonRpcError(reply, 400, -32000, 'Bad Request: no valid mcp-session-id; send initialize first');
    }

    // The SDK hands this to the tool handlers of THIS request (extra.authInfo).
    (req.raw as typeof req.raw & { auth?: unknown }).auth = {
      token,
      clientId: identity.sub,
      scopes: [],
      expiresAt: Math.floor(identity.expiresAt / 1000),
      extra: { identity },
    };
    reply.hijack();
    try {
      await session.transport.handleRequest(req.raw, reply.raw, req.body);
    } catch (err) {
      gw.logger.error({ err }, 'mcp request failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
      if (!reply.raw.writableEnded)
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: null }));
    }
  };
  const mcpRoute = { config: { mcpChallenge: true } };
  app.post('/mcp', mcpRoute, handle);
  app.get('/mcp', mcpRoute, handle);
  app.delete('/mcp', mcpRoute, handle);
}

function jsonRpcError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ jsonrpc: '2.0', error: { code, message }, id: null });
}
