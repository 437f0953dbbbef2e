// Which `Host` the API answers for, and the base URL it names itself by (MCP metadata, links).
// A browser tricked by DNS rebinding sends the attacker's host name, so only names the operator
// configured are accepted: `listen.publicUrl`'s host, the API listen host, and loopback names.
// Ports are not compared: DNS rebinding controls the name, and a port forward changes the port.
// The base URL never comes from the request.
import type { AddressInfo } from 'node:net';
import type { WardenConfig } from '../config/index.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);
/** A Host header: a DNS name or IPv4 literal, or a bracketed IPv6 literal; an optional port. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(\d{1,5}))?$/;

export interface PublicOrigin {
  /** `listen.publicUrl`, else `http://<api listen address>` (a wildcard host becomes 127.0.0.1). */
  baseUrl(): string;
  /** Whether a request's Host header names this gateway. */
  allowsHost(host: string | undefined): boolean;
  /** The listen host is a wildcard and no publicUrl is set: only loopback names are accepted. */
  readonly onlyLoopback: boolean;
}

export function publicOrigin(config: WardenConfig, address: () => AddressInfo | string | null): PublicOrigin {
  const listen = splitListen(config.listen.api);
  const publicUrl = config.listen.publicUrl;
  const allowed = new Set(LOOPBACK_NAMES);
  if (publicUrl) allowed.add(new URL(publicUrl).hostname.toLowerCase());
  const wildcard = WILDCARD_HOSTS.has(listen.host);
  // The listen host as written, even a wildcard: `http://0.0.0.0:8080` (the CLI's default for
  // such a config) reaches loopback, and no DNS name can make a client send it.
  allowed.add(listen.host.toLowerCase());

  return {
    onlyLoopback: wildcard && !publicUrl,
    baseUrl() {
      if (publicUrl) return publicUrl;
      const a = address();
      // The real port once listening (a configured 0 is resolved by then).
      const port = a && typeof a === 'object' ? a.port : listen.port;
      return `http://${wildcard ? '127.0.0.1' : listen.host}:${port}`;
    },
    allowsHost(host) {
      if (typeof host !== 'string') return false;
      const m = HOST_HEADER.exec(host.toLowerCase());
      if (!m) return false;
      return allowed.has(m[1] as string);
    },
  };
}

function splitListen(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}
