// The token `warden login` keeps for a person at a terminal: `~/.warden/token.json` (or
// `$WARDEN_HOME/token.json`), the directory 0700 and the file 0600, written whole through a
// rename so a reader never sees half a file. It names the gateway it was obtained for, so a
// client command never sends it to another gateway, and the issuer and client that can refresh
// it. A file others may read is refused, as ssh refuses such a key.
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { CliExit } from './exit.js';

export interface StoredToken {
  version: 1;
  /** The gateway API this token was obtained for (`http://127.0.0.1:8080`, no trailing slash). */
  gateway: string;
  issuer: string;
  clientId: string;
  resource?: string | undefined;
  accessToken: string;
  refreshToken?: string | undefined;
  /** Epoch ms when the access token expires; null when the issuer did not say. */
  expiresAt: number | null;
  /** The signed-in subject, as the issuer's ID token names it (shown, never trusted). */
  sub?: string | undefined;
}

/** A token this close to its expiry is refreshed first: it could expire on the way. */
const EXPIRY_MARGIN_MS = 30_000;

export function wardenHome(): string {
  return process.env.WARDEN_HOME || join(process.env.HOME || homedir(), '.warden');
}

export function tokenPath(): string {
  return join(wardenHome(), 'token.json');
}

/** The stored token, or null when there is none. Refuses a file that others may read or change. */
export function readStoredToken(): StoredToken | null {
  const path = tokenPath();
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliExit(1, `warden: cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new CliExit(
      1,
      `warden: ${path} is open to other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); not using it: run warden logout and warden login again`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new CliExit(1, `warden: ${path} is not a token file warden wrote: run warden login again`);
  }
  if (!isStoredToken(doc))
    throw new CliExit(1, `warden: ${path} is not a token file warden wrote: run warden login again`);
  return doc;
}

function isStoredToken(d: unknown): d is StoredToken {
  if (!d || typeof d !== 'object') return false;
  const t = d as Record<string, unknown>;
  return (
    t.version === 1 &&
    typeof t.gateway === 'string' &&
    typeof t.issuer === 'string' &&
    typeof t.clientId === 'string' &&
    typeof t.accessToken === 'string' &&
    t.accessToken.length > 0 &&
    (t.refreshToken === undefined || typeof t.refreshToken === 'string') &&
    (t.expiresAt === null || typeof t.expiresAt === 'number')
  );
}

export function writeStoredToken(token: StoredToken): string {
  const dir = wardenHome();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = tokenPath();
  const tmp = `${path}.${process.pid}.tmp`;
  // Created 0600 (never wider, whatever the umask), then renamed over the old file.
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, `${JSON.stringify(token, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true }); // no half-written copy of a token left behind
    throw new CliExit(
      1,
      `warden: cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return path;
}

/** Forgets the stored token; true when there was one. */
export function removeStoredToken(): boolean {
  const path = tokenPath();
  try {
    statSync(path);
  } catch {
    return false;
  }
  rmSync(path, { force: true });
  return true;
}

/** Loopback issuers (tests, a local IdP) may speak plain HTTP; any other must be HTTPS. */
function isLoopback(url: URL): boolean {
  const h = url.hostname;
  return h === 'localhost' || h === '[::1]' || h.startsWith('127.');
}

/** The issuer's discovered configuration for a public client (PKCE, no secret). */
export async function issuerConfiguration(issuer: string, clientId: string): Promise<oidc.Configuration> {
  const url = new URL(issuer);
  try {
    return await oidc.discovery(
      url,
      clientId,
      undefined,
      oidc.None(),
      isLoopback(url) ? { execute: [oidc.allowInsecureRequests], timeout: 15 } : { timeout: 15 },
    );
  } catch (err) {
    throw new CliExit(1, `warden: cannot discover the issuer ${url.origin}: ${oidcErrorText(err)}`);
  }
}

/** What an issuer said, without echoing anything but its error code and description. */
export function oidcErrorText(err: unknown): string {
  if (err instanceof oidc.ResponseBodyError) {
    return `${err.error}${err.error_description ? ` (${err.error_description})` : ''}`;
  }
  const e = err as Error & { cause?: unknown };
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return `${e.message ?? String(err)}${cause}`;
}

/** The stored token for a token endpoint answer. */
export function storedFrom(
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  base: Pick<StoredToken, 'gateway' | 'issuer' | 'clientId' | 'resource'> & {
    sub?: string | undefined;
    refreshToken?: string | undefined;
  },
  now = Date.now(),
): StoredToken {
  const expiresIn = tokens.expiresIn();
  const sub = tokens.claims()?.sub ?? base.sub;
  return {
    version: 1,
    gateway: base.gateway,
    issuer: base.issuer,
    clientId: base.clientId,
    ...(base.resource ? { resource: base.resource } : {}),
    accessToken: tokens.access_token,
    // An issuer that does not rotate refresh tokens answers without one: the old one stays good.
    ...(tokens.refresh_token || base.refreshToken ? { refreshToken: tokens.refresh_token ?? base.refreshToken } : {}),
    expiresAt: typeof expiresIn === 'number' ? now + expiresIn * 1000 : null,
    ...(sub ? { sub } : {}),
  };
}

export function isFresh(t: StoredToken, now = Date.now()): boolean {
  return t.expiresAt === null || t.expiresAt - EXPIRY_MARGIN_MS > now;
}

/**
 * A usable access token from the stored one: as is while it is fresh (unless `force`: the
 * gateway refused it), else refreshed at its issuer (and stored again). No refresh token, or
 * the issuer refuses: sign in again.
 */
export async function storedAccessToken(t: StoredToken, force = false): Promise<string> {
  if (!force && isFresh(t)) return t.accessToken;
  if (!t.refreshToken)
    throw new CliExit(1, 'warden: your sign-in has expired and cannot be refreshed: run warden login');
  const config = await issuerConfiguration(t.issuer, t.clientId);
  try {
    const tokens = await oidc.refreshTokenGrant(
      config,
      t.refreshToken,
      t.resource ? { resource: t.resource } : undefined,
    );
    const next = storedFrom(tokens, { ...t });
    writeStoredToken(next);
    return next.accessToken;
  } catch (err) {
    if (err instanceof CliExit) throw err;
    // Another warden command may have refreshed it a moment ago (a rotated refresh token is
    // good once): use what it stored.
    const latest = readStoredToken();
    if (latest && latest.accessToken !== t.accessToken && isFresh(latest)) return latest.accessToken;
    throw new CliExit(
      1,
      `warden: your sign-in has expired and the issuer refused to refresh it (${oidcErrorText(err)}): run warden login`,
    );
  }
}
