// /mcp (Streamable HTTP) and its RFC 9728 metadata. Every request carries a bearer token,
// verified like any front door's; a session belongs to the subject that opened it.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import type { DevIssuer } from '../../identity/index.js';
import { bearerToken } from '../auth.js';
import { problem, problemFromError, sendProblem } from '../problem.js';
import { METADATA_PATH, mcpChallenge, protectedResourceMetadata } from './metadata.js';
import { McpSessions } from './sessions.js';
import { buildMcpServer } from './tools.js';

export interface McpOptions {
  devIssuer?: DevIssuer | null;
  version: string;
}

export function registerMcp(app: FastifyInstance, gw: Gateway, opts: McpOptions): McpSessions {
  const sessions: McpSessions = new McpSessions(gw, () =>
    buildMcpServer({ gw, version: opts.version, session: (id) => (id ? sessions.get(id) : undefined) }),
  );
  // Before the listener stops: end open SSE streams and the sessions' front-door clients.
  app.addHook('preClose', async () => sessions.closeAll());

  const metadata = async (req: FastifyRequest) => protectedResourceMetadata(gw, opts.devIssuer, req);
  app.get(METADATA_PATH, metadata);
  app.get(`${METADATA_PATH}/mcp`, metadata);

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(req);
    if (!token) {
      reply.header('www-authenticate', mcpChallenge(req));
      return sendProblem(reply, problem(401, 'Unauthorized', 'missing bearer token', { code: 'WARDEN_TOKEN_INVALID' }));
    }
    let identity: Identity;
    try {
      identity = await gw.authenticate(token);
    } catch (err) {
      reply.header('www-authenticate', mcpChallenge(req, 'invalid_token'));
      return sendProblem(reply, { ...problemFromError(err), status: 401, title: 'Unauthorized' });
    }

    const sid = req.headers['mcp-session-id'];
    let session = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (typeof sid === 'string') {
      // Another subject's session id is as good as an unknown one.
      if (!session || session.sub !== identity.sub) return jsonRpcError(reply, 404, -32001, 'Session not found');
      session.touch(identity, token);
    } else if (req.method === 'POST' && isInitializeRequest(req.body)) {
      session = await sessions.open(identity, token);
    } else {
      return jsonRpcError(reply, 400, -32000, 'Bad Request: no valid mcp-session-id; send initialize first');
    }

    // The SDK's tool handlers read the caller from here (extra.authInfo).
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
      gw.logger.error({ err: String(err) }, 'mcp request failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
      if (!reply.raw.writableEnded)
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: null }));
    }
  };
  app.post('/mcp', handle);
  app.get('/mcp', handle);
  app.delete('/mcp', handle);
  return sessions;
}

function jsonRpcError(reply: FastifyReply, status: number, code: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ jsonrpc: '2.0', error: { code, message }, id: null });
}
