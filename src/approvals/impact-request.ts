// The impact preview of an HTTP or Kubernetes operation: no probe to run, only what the request
// resolves to, from the facts the front door produced (the method after overrides, the path
// as normalised, the parsed query) and the connection's upstream URL. So a reviewer approves
// "POST https://billing.internal/v1/refunds (JSON body: amount, currency)", which is what the
// upstream receives, not a path that a server might resolve differently from how it reads.
import type { Clock } from '../core/clock.js';
import type { Operation } from '../core/types.js';
import type { RequestImpact, ReviewImpact } from '../store/types.js';

/** Field names listed at most (a body's shape, not its size). */
const MAX_FIELDS = 20;

type RequestOperation = Extract<Operation, { kind: 'http' } | { kind: 'k8s' }>;

/** The preview for an HTTP or k8s operation; `upstreamUrl` is the connection's configured URL. */
export function requestImpact(op: RequestOperation, upstreamUrl: string | undefined, clock: Clock): ReviewImpact {
  const request = op.kind === 'http' ? httpRequest(op, upstreamUrl) : k8sRequest(op);
  return {
    status: 'known',
    verb: request.method.toLowerCase(),
    estimatedRows: null,
    exactRows: null,
    request,
    summary: summaryOf(request),
    computedAt: clock.now(),
  };
}

function httpRequest(op: Extract<Operation, { kind: 'http' }>, upstreamUrl: string | undefined): RequestImpact {
  const { method, path, query, json, bodyBytes } = op.http;
  const url = resolve(upstreamUrl, path, query);
  const fields =
    json && typeof json === 'object' && !Array.isArray(json) ? Object.keys(json).slice(0, MAX_FIELDS + 1) : null;
  return {
    method,
    path,
    query: { ...query },
    ...(url ? { url } : {}),
    ...(bodyBytes !== undefined ? { bodyBytes } : {}),
    ...(fields ? { jsonFields: fields } : {}),
  };
}

/** A Kubernetes verb on its object; the API path depends on the resource's group, so none is made up. */
function k8sRequest(op: Extract<Operation, { kind: 'k8s' }>): RequestImpact {
  const { verb, resource, namespace, name, subresource } = op.k8s;
  return {
    method: verb,
    path: [namespace && `namespaces/${namespace}`, resource, name, subresource].filter(Boolean).join('/'),
    query: {},
    k8s: { verb, resource, namespace, name, subresource },
  };
}

/**
 * The upstream URL the request reaches: the connection's origin and base path, then the path and
 * query. Credentials in the configured URL are never shown.
 */
function resolve(
  upstreamUrl: string | undefined,
  path: string,
  query: Record<string, string | string[]>,
): string | undefined {
  if (!upstreamUrl) return undefined;
  let base: URL;
  try {
    base = new URL(upstreamUrl);
  } catch {
    return undefined;
  }
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const one of Array.isArray(v) ? v : [v]) search.append(k, one);
  const q = search.toString();
  return `${base.origin}${base.pathname.replace(/\/+$/, '')}${path}${q ? `?${q}` : ''}`;
}

function summaryOf(r: RequestImpact): string {
  if (r.k8s) {
    const { verb, resource, namespace, name, subresource } = r.k8s;
    const what = `${resource}${name ? `/${name}` : ''}${subresource ? `/${subresource}` : ''}`;
    return `would ${verb} ${what}${namespace ? ` in namespace ${namespace}` : ''}`;
  }
  const target =
    r.url ?? `${r.path}${Object.keys(r.query).length ? `?${new URLSearchParams(flat(r.query)).toString()}` : ''}`;
  const fields = r.jsonFields
    ? ` (JSON body: ${r.jsonFields.length > MAX_FIELDS ? `${r.jsonFields.slice(0, MAX_FIELDS).join(', ')}, …` : r.jsonFields.join(', ') || 'empty object'})`
    : r.bodyBytes
      ? ` (body of ${r.bodyBytes} bytes)`
      : '';
  return `would ${r.method} ${target}${fields}`;
}

function flat(query: Record<string, string | string[]>): [string, string][] {
  return Object.entries(query).flatMap(([k, v]) =>
    Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v]],
  );
}
