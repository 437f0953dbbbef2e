// The gate every API request passes in `onRequest`, before its body is read: the Host must name
// this gateway, and every route that is not public needs a verified bearer token (the same
// verification as every front door). An unauthenticated request never has its body parsed.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WardenError } from '../core/errors.js';
import type { Identity } from '../core/types.js';
import type { Gateway } from '../gateway/index.js';
import { type Problem, problem, problemFromError, sendProblem } from './problem.js';
import type { PublicOrigin } from './public-origin.js';

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
  }
  interface FastifyContextConfig {
    /** `bearer` (default): a verified token; `public`: none; `metrics`: the metrics token when one is set. */
    auth?: 'bearer' | 'public' | 'metrics';
    /** The 401 challenge names the MCP protected-resource metadata (RFC 9728). */
    mcpChallenge?: boolean;
    /** Health and metrics answer whatever Host a prober sends. */
    anyHost?: boolean;
  }
}

/** Public routes take no body worth reading; anything bigger is refused unread. */
export const PUBLIC_BODY_LIMIT = 1024;
/** An unauthenticated request with more body than this gets its connection closed, not drained. */
const DRAIN_LIMIT = 16 * 1024;

export function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? (m[1] as string) : null;
}

export interface GateOptions {
  origin: PublicOrigin;
  /** The RFC 9728 challenge for /mcp. */
  mcpChallenge(error?: 'invalid_token'): string;
  /** `metrics.token`: when set, /metrics needs it. */
  metricsToken?: string | undefined;
}

export function requestGate(gw: Gateway, opts: GateOptions) {
  const metricsDigest = opts.metricsToken ? digest(opts.metricsToken) : null;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const cfg = req.routeOptions.config ?? {};
    if (!cfg.anyHost && !opts.origin.allowsHost(req.headers.host)) {
      await refuseUnread(
        req,
        reply,
        problem(421, 'Misdirected Request', 'this gateway does not answer for that Host; see listen.publicUrl', {
          code: 'WARDEN_USAGE',
        }),
      );
      return;
    }
    if (req.is404) {
      await refuseUnread(req, reply, problem(404, 'Not Found', `no route ${req.method} ${req.url.split('?')[0]}`));
      return;
    }
    const auth = cfg.auth ?? 'bearer';
    if (auth === 'public' || (auth === 'metrics' && !metricsDigest)) {
      if (declaredBody(req) > PUBLIC_BODY_LIMIT)
        await refuseUnread(
          req,
          reply,
          problem(413, 'Payload Too Large', 'this route takes no body', { code: 'WARDEN_USAGE' }),
        );
      return;
    }
    const token = bearerToken(req);
    if (auth === 'metrics') {
      if (!token || !metricsDigest || !timingSafeEqual(digest(token), metricsDigest)) {
        reply.header('www-authenticate', 'Bearer realm="warden-metrics"');
        await refuseUnread(
          req,
          reply,
          problem(401, 'Unauthorized', 'metrics need the metrics token', { code: 'WARDEN_TOKEN_INVALID' }),
        );
      }
      return;
    }
    if (!token) {
      reply.header('www-authenticate', cfg.mcpChallenge ? opts.mcpChallenge() : 'Bearer realm="warden"');
      await refuseUnread(req, reply, problemFromError(new WardenError('WARDEN_TOKEN_INVALID', 'missing bearer token')));
      return;
    }
    try {
      req.identity = await gw.authenticate(token);
    } catch (err) {
      reply.header(
        'www-authenticate',
        cfg.mcpChallenge ? opts.mcpChallenge('invalid_token') : 'Bearer realm="warden", error="invalid_token"',
      );
      const p = problemFromError(err);
      // MCP clients read any refusal of the token as 401 + challenge (RFC 6750, MCP authorization).
      await refuseUnread(req, reply, cfg.mcpChallenge ? { ...p, status: 401, title: 'Unauthorized' } : p);
    }
  };
}

/** Body bytes the request announces; chunked (unknown length) counts as unlimited. */
function declaredBody(req: FastifyRequest): number {
  if (req.headers['transfer-encoding'] !== undefined) return Number.POSITIVE_INFINITY;
  const n = Number(req.headers['content-length'] ?? 0);
  return Number.isFinite(n) && n >= 0 ? n : Number.POSITIVE_INFINITY;
}

/** Answer without reading the body: a large one is not drained, the connection closes instead. */
function refuseUnread(req: FastifyRequest, reply: FastifyReply, p: Problem): FastifyReply {
  if (declaredBody(req) > DRAIN_LIMIT) reply.header('connection', 'close');
  return sendProblem(reply, p);
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function isAdmin(gw: Gateway, identity: Identity): boolean {
  return identity.groups.some((g) => gw.config.admins.includes(g));
}

export function requireAdmin(gw: Gateway, req: FastifyRequest): Identity {
  const id = req.identity;
  if (!id) throw new WardenError('WARDEN_TOKEN_INVALID', 'not authenticated');
  if (!isAdmin(gw, id))
    throw new WardenError('WARDEN_ACCESS_DENIED', `this needs membership in one of: ${gw.config.admins.join(', ')}`);
  return id;
}
