// A real oidc-provider 9 on loopback for integration tests: client credentials, resource
// indicator `warden` → RS256 JWT access tokens with a `groups` claim. Reusable by any suite.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface OidcTestProvider {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  issuer: string;
  /** The `aud` of access tokens: `warden`. */
  audience: string;
  /** A fresh access token via client_credentials; `sub` defaults to the client id. */
  getToken(opts?: { groups?: string[]; sub?: string }): Promise<string>;
  /** The provider's signing key (private JWK with `kid` and `alg`), to forge tokens. */
  privateJwk: JWK;
  /** How many times the JWKS endpoint was requested. */
  jwksRequests(): number;
  /** Stop listening and drop open connections. Idempotent. */
  stop(): Promise<void>;
}

const CLIENT_ID = 'warden-test';
const CLIENT_SECRET = 'warden-test-secret-0123456789abcdef';
const RESOURCE = 'urn:warden';
const AUDIENCE = 'warden';
// Per-request test knobs, sent as headers to the token endpoint (the provider ignores them).
const SUB_HEADER = 'x-test-sub';
const GROUPS_HEADER = 'x-test-groups';

export async function startOidcProvider(): Promise<OidcTestProvider> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-rs256-1', alg: 'RS256', use: 'sig' };

  // Listen first: the issuer URL needs the port.
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [privateJwk as Record<string, unknown>] } as never,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api',
          audience: AUDIENCE,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    extraTokenClaims: (ctx) => {
      const groups = ctx.get(GROUPS_HEADER);
      return { groups: groups ? groups.split(',') : [] };
    },
    formats: {
      customizers: {
        jwt: (ctx, _token, jwt) => {
          const sub = ctx.get(SUB_HEADER);
          if (sub) jwt.payload.sub = sub;
        },
      },
    },
  });

  let jwksCount = 0;
  provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') jwksCount++;
    await next();
  });
  server.on('request', provider.callback());

  let stopped = false;
  return {
    issuer,
    audience: AUDIENCE,
    privateJwk,
    jwksRequests: () => jwksCount,
    async getToken(opts = {}) {
      const headers: Record<string, string> = {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      };
      if (opts.sub) headers[SUB_HEADER] = opts.sub;
      if (opts.groups) headers[GROUPS_HEADER] = opts.groups.join(',');
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: RESOURCE, scope: 'api' }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || !body.access_token) {
        throw new Error(`token request failed: ${res.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
      }
      return body.access_token;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
