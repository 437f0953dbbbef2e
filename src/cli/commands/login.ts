// `warden login` / `warden logout`: a person at a terminal signs in at the console's issuer
// (the gateway names it at /console/config.json) with the authorization code grant and PKCE,
// the browser coming back to a one-time listener on 127.0.0.1 (RFC 8252), or with the device
// grant (RFC 8628) where the issuer offers it. The token goes to ~/.warden/token.json (see
// stored-token.ts); client commands use it when neither --token nor WARDEN_TOKEN is given.
// The protocol work is openid-client's (discovery, PKCE, state, ID token checks, polling with
// slow_down, refresh, revocation): only the loopback listener is ours.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import * as oidc from 'openid-client';
import { displayText } from '../../core/display-text.js';
import { parseDuration } from '../../core/duration.js';
import { resolveGateway } from '../client.js';
import { CliExit } from '../exit.js';
import {
  issuerConfiguration,
  oidcErrorText,
  readStoredToken,
  removeStoredToken,
  type StoredToken,
  storedFrom,
  tokenPath,
  writeStoredToken,
} from '../stored-token.js';

interface ConsoleConfig {
  issuer?: string;
  clientId?: string;
  cliClientId?: string;
  resource?: string;
}

interface LoginOptions {
  gateway?: string;
  device?: boolean;
  open?: boolean;
  clientId?: string;
  timeout: string;
}

/** offline_access asks for a refresh token; issuers grant it on a consent prompt. */
const SCOPE = 'openid offline_access';
const CALLBACK = '/callback';

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description("sign in at the console's identity provider; client commands then use the stored token")
    .option('--gateway <url>', 'gateway API URL (env WARDEN_GATEWAY)', process.env.WARDEN_GATEWAY)
    .option('--device', 'use the device-code grant (sign in on another device)')
    .option('--open', 'open the sign-in page in the default browser')
    .option('--client-id <id>', "the issuer's public client for the CLI (default: the gateway's console.cliClientId)")
    .option('--timeout <duration>', 'how long to wait for the sign-in', '5m')
    .action(login);
  program
    .command('logout')
    .description('forget the stored token (revoked at the issuer when it offers revocation)')
    .action(logout);
}

async function login(opts: LoginOptions): Promise<void> {
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(opts.timeout);
  } catch (err) {
    throw new CliExit(2, `warden login: --timeout: ${(err as Error).message}`);
  }
  const gateway = resolveGateway(opts.gateway);
  const site = await consoleConfig(gateway);
  if (!site.issuer)
    throw new CliExit(
      2,
      `warden login: the gateway at ${gateway} names no identity provider (console.issuer); with the dev issuer, mint a token with warden token`,
    );
  const clientId = opts.clientId ?? site.cliClientId ?? site.clientId;
  if (!clientId)
    throw new CliExit(
      2,
      'warden login: the gateway names no client for signing in (console.cliClientId); pass --client-id',
    );
  const config = await issuerConfiguration(site.issuer, clientId);
  const extra: Record<string, string> = site.resource ? { resource: site.resource } : {};
  const signal = AbortSignal.timeout(timeoutMs);
  const tokens = opts.device
    ? await deviceGrant(config, extra, opts.open === true, signal)
    : await codeGrant(config, extra, opts.open === true, signal);
  const stored = storedFrom(tokens, { gateway, issuer: site.issuer, clientId, resource: site.resource });
  const path = writeStoredToken(stored);
  process.stderr.write(
    `warden login: signed in${stored.sub ? ` as ${displayText(stored.sub)}` : ''} at ${displayText(site.issuer)}; ` +
      `token kept in ${path}${stored.expiresAt ? ` (expires ${new Date(stored.expiresAt).toISOString()}${stored.refreshToken ? ', refreshed when needed' : ''})` : ''}\n`,
  );
}

async function consoleConfig(gateway: string): Promise<ConsoleConfig> {
  let res: Response;
  try {
    res = await fetch(`${gateway}/console/config.json`, { signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new CliExit(1, `warden login: cannot reach the gateway at ${gateway} (${oidcErrorText(err)})`);
  }
  if (!res.ok)
    throw new CliExit(1, `warden login: the gateway at ${gateway} answered ${res.status} for its console config`);
  const doc = (await res.json().catch(() => null)) as ConsoleConfig | null;
  if (!doc || typeof doc !== 'object')
    throw new CliExit(1, `warden login: the gateway at ${gateway} sent no console config`);
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const issuer = str(doc.issuer);
  const clientId = str(doc.clientId);
  const cliClientId = str(doc.cliClientId);
  const resource = str(doc.resource);
  return {
    ...(issuer ? { issuer } : {}),
    ...(clientId ? { clientId } : {}),
    ...(cliClientId ? { cliClientId } : {}),
    ...(resource ? { resource } : {}),
  };
}

type Tokens = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;

/**
 * Authorization code + PKCE with a loopback redirect: a listener on 127.0.0.1 (a port the system
 * picks) takes exactly one answer carrying our state; anything else gets a 400 and is ignored,
 * so a local process cannot end the sign-in or slip its own code in.
 */
async function codeGrant(
  config: oidc.Configuration,
  extra: Record<string, string>,
  open: boolean,
  signal: AbortSignal,
): Promise<Tokens> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  let settle!: { resolve: (t: Tokens) => void; reject: (e: unknown) => void };
  const done = new Promise<Tokens>((resolve, reject) => {
    settle = { resolve, reject };
  });
  let redirectUri = '';
  let busy = false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', redirectUri);
    if (req.method !== 'GET' || url.pathname !== CALLBACK || url.searchParams.get('state') !== state || busy) {
      return answer(res, 400, 'This is not the sign-in warden login is waiting for.');
    }
    busy = true;
    const error = url.searchParams.get('error');
    if (error) {
      answer(res, 400, 'Sign-in failed; see the terminal.');
      const description = url.searchParams.get('error_description');
      return settle.reject(
        new CliExit(
          1,
          `warden login: the issuer refused the sign-in: ${error}${description ? ` (${description})` : ''}`,
        ),
      );
    }
    oidc
      .authorizationCodeGrant(config, url, { pkceCodeVerifier: verifier, expectedState: state }, { ...extra })
      .then((tokens) => {
        answer(res, 200, 'Signed in to Warden. You can close this tab and return to the terminal.');
        settle.resolve(tokens);
      })
      .catch((err) => {
        answer(res, 400, 'Sign-in failed; see the terminal.');
        settle.reject(new CliExit(1, `warden login: the code exchange failed: ${oidcErrorText(err)}`));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}${CALLBACK}`;
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...extra,
  });
  process.stderr.write(`To sign in, open this page in a browser on this machine:\n\n  ${url.href}\n\n`);
  if (open) openBrowser(url.href);
  const onAbort = () => settle.reject(new CliExit(1, 'warden login: no sign-in within --timeout'));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await done;
  } finally {
    signal.removeEventListener('abort', onAbort);
    server.closeAllConnections();
    server.close();
  }
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    connection: 'close',
  });
  res.end(`${text}\n`);
}

/** The device grant: the person enters a short code on a page of the issuer, on any device. */
async function deviceGrant(
  config: oidc.Configuration,
  extra: Record<string, string>,
  open: boolean,
  signal: AbortSignal,
): Promise<Tokens> {
  if (!config.serverMetadata().device_authorization_endpoint)
    throw new CliExit(2, 'warden login: the issuer offers no device-code grant; sign in without --device');
  let start: oidc.DeviceAuthorizationResponse;
  try {
    start = await oidc.initiateDeviceAuthorization(config, { scope: SCOPE, ...extra });
  } catch (err) {
    throw new CliExit(1, `warden login: the issuer refused the device sign-in: ${oidcErrorText(err)}`);
  }
  const page = start.verification_uri_complete ?? start.verification_uri;
  process.stderr.write(
    `To sign in, open ${displayText(start.verification_uri)} on any device and enter the code ${displayText(start.user_code)}` +
      `${start.verification_uri_complete ? `\n(or open ${displayText(start.verification_uri_complete)})` : ''}\n`,
  );
  if (open) openBrowser(page);
  try {
    return await oidc.pollDeviceAuthorizationGrant(config, start, undefined, { signal });
  } catch (err) {
    if (signal.aborted) throw new CliExit(1, 'warden login: no sign-in within --timeout');
    throw new CliExit(1, `warden login: the device sign-in failed: ${oidcErrorText(err)}`);
  }
}

/** Best effort; the URL is printed either way. Only http(s) URLs, never through a shell. */
function openBrowser(url: string): void {
  if (!/^https?:\/\//.test(url)) return;
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['rundll32', ['url.dll,FileProtocolHandler', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args as string[], { stdio: 'ignore', detached: true });
    child.on('error', () =>
      process.stderr.write(`warden login: could not open a browser (${cmd}); open the URL above\n`),
    );
    child.unref();
  } catch {
    // the URL is on the terminal
  }
}

async function logout(): Promise<void> {
  let stored: StoredToken | null;
  try {
    stored = readStoredToken();
  } catch {
    // A file we would not use (open to others, not ours): still forget it.
    stored = null;
  }
  if (!removeStoredToken()) {
    process.stderr.write('warden logout: not signed in\n');
    return;
  }
  const revoked = stored ? await revoke(stored) : 'not revoked (the file was not usable)';
  process.stderr.write(`warden logout: forgot ${tokenPath()}; ${revoked}\n`);
}

/**
 * Revokes the refresh token (at most issuers its access tokens go with it), then the access
 * token; an issuer that cannot revoke a self-contained (JWT) access token says so, and the
 * answer says until when it stays valid.
 */
async function revoke(t: StoredToken): Promise<string> {
  let config: oidc.Configuration;
  try {
    config = await issuerConfiguration(t.issuer, t.clientId);
  } catch (err) {
    return `not revoked: ${(err as Error).message.replace(/^warden: /, '')}`;
  }
  const until = t.expiresAt ? ` until ${new Date(t.expiresAt).toISOString()}` : '';
  if (!config.serverMetadata().revocation_endpoint) {
    return `the issuer offers no revocation: the access token stays valid${until}`;
  }
  const said: string[] = [];
  if (t.refreshToken) {
    try {
      await oidc.tokenRevocation(config, t.refreshToken, { token_type_hint: 'refresh_token' });
      said.push('refresh token revoked at the issuer');
    } catch (err) {
      said.push(`the issuer did not revoke the refresh token: ${oidcErrorText(err)}`);
    }
  }
  try {
    await oidc.tokenRevocation(config, t.accessToken, { token_type_hint: 'access_token' });
    said.push('access token revoked at the issuer');
  } catch (err) {
    said.push(
      err instanceof oidc.ResponseBodyError && err.error === 'unsupported_token_type'
        ? `the issuer cannot revoke the access token: it stays valid${until}`
        : `the issuer did not revoke the access token: ${oidcErrorText(err)}`,
    );
  }
  return said.join('; ');
}
