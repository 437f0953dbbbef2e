// OAuth 2.0 protected-resource metadata (RFC 9728) for /mcp, and the challenge that points at it.
import type { FastifyRequest } from 'fastify';
import type { Gateway } from '../../gateway/index.js';
import type { DevIssuer } from '../../identity/index.js';

export const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** The URL the client used to reach us (scheme and Host as the client sent them). */
export function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

export function mcpChallenge(req: FastifyRequest, error?: 'invalid_token'): string {
  return `Bearer resource_metadata="${baseUrl(req)}${METADATA_PATH}"${error ? `, error="${error}"` : ''}`;
}

export function protectedResourceMetadata(gw: Gateway, devIssuer: DevIssuer | null | undefined, req: FastifyRequest) {
  const issuers = gw.config.identity.issuers.map((i) => i.issuer);
  if (devIssuer) issuers.push(devIssuer.issuer);
  return {
    resource: `${baseUrl(req)}/mcp`,
    authorization_servers: [...new Set(issuers)],
    bearer_methods_supported: ['header'],
    resource_name: 'Warden MCP server',
  };
}
