// REST client for the client commands. Token from --token or WARDEN_TOKEN; gateway from
// --gateway, WARDEN_GATEWAY, or the local config's listen.api.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { CliExit } from './exit.js';
import { DEFAULT_CONFIG } from './options.js';

export interface ClientOptions {
  gateway?: string;
  token?: string;
  json?: boolean;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  static from(opts: ClientOptions): ApiClient {
    const token = opts.token ?? process.env.WARDEN_TOKEN;
    if (!token)
      throw new CliExit(
        2,
        'warden: no token: pass --token or set WARDEN_TOKEN (e.g. export WARDEN_TOKEN=$(warden token --sub me --groups admins))',
      );
    return new ApiClient(resolveGateway(opts.gateway), token);
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
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
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
