// REST client for the client commands. Token from --token or WARDEN_TOKEN, else the one
// `warden login` stored (refreshed when it has expired); gateway from --gateway,
// WARDEN_GATEWAY, or the local config's listen.api.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CliExit } from './exit.js';
import { DEFAULT_CONFIG } from './options.js';
import { readStoredToken, storedAccessToken } from './stored-token.js';

export interface ClientOptions {
  gateway?: string;
  token?: string;
  json?: boolean;
}

/**
 * A token as given, or the stored sign-in: `get(refresh)` gives its access token, refreshed
 * first when it has expired or when `refresh` (the gateway refused it and it can be refreshed).
 */
type TokenSource = string | { get(refresh: boolean): Promise<string>; refreshable: boolean };

export class ApiClient {
  private current: string | undefined;
  private refreshed = false;

  constructor(
    readonly baseUrl: string,
    private readonly token: TokenSource,
  ) {}

  static from(opts: ClientOptions): ApiClient {
    const gateway = resolveGateway(opts.gateway);
    // An empty WARDEN_TOKEN is unset, as an empty WARDEN_GATEWAY is.
    const given = opts.token || process.env.WARDEN_TOKEN;
    if (given) return new ApiClient(gateway, given);
    const stored = readStoredToken();
    if (!stored)
      throw new CliExit(
        2,
        'warden: no token: run warden login, pass --token or set WARDEN_TOKEN (e.g. export WARDEN_TOKEN=$(warden token --sub me --groups admins))',
      );
    // The sign-in is for the gateway it was made at: it is never sent to another one.
    if (stored.gateway !== gateway)
      throw new CliExit(
        2,
        `warden: you are signed in at ${stored.gateway}, not ${gateway}: run warden login --gateway ${gateway}, or pass --token`,
      );
    return new ApiClient(gateway, {
      refreshable: !!stored.refreshToken,
      // A forced refresh starts from the file as it is now (another command may have rotated it).
      get: (refresh) => storedAccessToken(refresh ? (readStoredToken() ?? stored) : stored, refresh),
    });
  }

  /** The bearer this client sends (the stored sign-in's, refreshed first when it has expired). */
  currentToken(): Promise<string> {
    return this.bearer();
  }

  private async bearer(refresh = false): Promise<string> {
    if (typeof this.token === 'string') return this.token;
    if (refresh || this.current === undefined) this.current = await this.token.get(refresh);
    return this.current;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!res.ok) {
      const p = data as { detail?: string; title?: string; code?: string } | null;
      const msg = p && typeof p === 'object' ? (p.detail ?? p.title ?? res.statusText) : String(data);
      throw new CliExit(
        res.status === 400 ? 2 : 1,
        `warden: ${msg}${p && typeof p === 'object' && p.code ? ` (${p.code})` : ''}`,
      );
    }
    return data as T;
  }

  async raw(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await this.send(method, path, body, await this.bearer());
    // A stored sign-in the gateway refuses though it has not expired here (clocks apart, a key
    // the issuer rotated): refreshed once and sent again; a 401 means nothing was carried out.
    // A revoked identity stays refused: a refresh is never a way around a revocation.
    if (res.status !== 401 || typeof this.token === 'string' || !this.token.refreshable || this.refreshed) return res;
    const problem = (await res
      .clone()
      .json()
      .catch(() => null)) as { code?: unknown } | null;
    if (problem?.code === 'WARDEN_TOKEN_REVOKED') return res;
    this.refreshed = true;
    return this.send(method, path, body, await this.bearer(true));
  }

  private async send(method: string, path: string, body: unknown, token: string): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new CliExit(
        1,
        `warden: cannot reach the gateway at ${this.baseUrl} (${(err as Error).cause ?? (err as Error).message})`,
      );
    }
  }
}

export function resolveGateway(explicit?: string): string {
  if (explicit) return explicit.replace(/\/$/, '');
  if (process.env.WARDEN_GATEWAY) return process.env.WARDEN_GATEWAY.replace(/\/$/, '');
  if (existsSync(DEFAULT_CONFIG)) {
    try {
      const doc = parse(readFileSync(DEFAULT_CONFIG, 'utf8')) as { listen?: { api?: string } } | null;
      if (doc?.listen?.api) return `http://${doc.listen.api}`;
    } catch {
      // fall through to the default
    }
  }
  return 'http://127.0.0.1:8080';
}
