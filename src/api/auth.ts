// Bearer-token authentication for /api/v1 and /mcp: the same verification as every front door.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WardenError } from '../core/errors.js';
import type { Identity } from '../core/types.js';
import type { Gateway } from '../gateway/index.js';
import { problemFromError, sendProblem } from './problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
  }
}

export function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? (m[1] as string) : null;
}

export function authHook(gw: Gateway, wwwAuthenticate: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = bearerToken(req);
    if (!token) {
      reply.header('www-authenticate', wwwAuthenticate);
      await sendProblem(reply, problemFromError(new WardenError('WARDEN_TOKEN_INVALID', 'missing bearer token')));
      return;
    }
    try {
      req.identity = await gw.authenticate(token);
    } catch (err) {
      reply.header('www-authenticate', `${wwwAuthenticate}, error="invalid_token"`);
      await sendProblem(reply, problemFromError(err));
    }
  };
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
