// A real oidc-provider for the console's sign-in: a public client (code + PKCE, redirecting to
// the console), its development login form (any name signs in), and JWT access tokens for the
// `warden` audience carrying a `groups` claim chosen per name. A second public client, a native
// app, is `warden login`'s: loopback redirect on any port, refresh tokens (offline_access), the
// device grant; revocation is on.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export const CONSOLE_CLIENT = 'warden-console';
export const CONSOLE_RESOURCE = 'urn:warden';
export const CLI_CLIENT = 'warden-cli';

export interface ConsoleIssuer {
  issuer: string;
  /** Starts answering, for a console at `redirectUri` (known once the gateway runs). */
  attach(redirectUri: string, groupsOf: (login: string) => string[]): Promise<void>;
  stop(): Promise<void>;
}

/** Listens first (the gateway's config needs the issuer URL); answers once attached. */
export async function startConsoleIssuer(): Promise<ConsoleIssuer> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    attach: (redirectUri, groupsOf) => attach(server, issuer, redirectUri, groupsOf),
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function attach(
  server: Server,
  issuer: string,
  redirectUri: string,
  groupsOf: (login: string) => string[],
): Promise<void> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'console-rs256', alg: 'RS256', use: 'sig' };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CONSOLE_CLIENT,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [redirectUri],
      },
      {
        client_id: CLI_CLIENT,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
      },
    ],
    jwks: { keys: [jwk as Record<string, unknown>] } as never,
    cookies: { keys: ['console-test-cookie-key'] },
    clientBasedCORS: () => true,
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => CONSOLE_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'openid',
          audience: 'warden',
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    extraTokenClaims: (_ctx, token) => ({ groups: groupsOf(String((token as { accountId?: string }).accountId)) }),
  });
  server.on('request', provider.callback());
}
