// OAuth 2.0 protected-resource metadata (RFC 9728) for /mcp, and the challenge that points at it.
// Both name the gateway by its configured origin (listen.publicUrl or the listen address), never
// by the request's Host.
import type { Gateway } from '../../gateway/index.js';
import type { DevIssuer } from '../../identity/index.js';
import type { PublicOrigin } from '../public-origin.js';

export const METADATA_PATH = '/.well-known/oauth-protected-resource';

export function mcpChallenge(origin: PublicOrigin, error?: 'invalid_token'): string {
  return `Bearer resource_metadata="${origin.baseUrl()}${METADATA_PATH}"${error ? `, error="${error}"` : ''}`;
}

export function protectedResourceMetadata(gw: Gateway, devIssuer: DevIssuer | null | undefined, origin: PublicOrigin) {
  const issuers = gw.config.identity.issuers.map((i) => i.issuer);
  if (devIssuer) issuers.push(devIssuer.issuer);
  return {
    resource: `${origin.baseUrl()}/mcp`,
    authorization_servers: [...new Set(issuers)],
    bearer_methods_supported: ['header'],
    resource_name: 'Warden MCP server',
  };
}
