// REST `exec` (and `warden exec CONN -- GET /path`) on an HTTP connection: the request is served
// by the HTTP engine in-process, over an in-memory stream, for the identity the API verified, so
// it is decided, masked, recorded and audited exactly as through the HTTP front door. The input
// is what `policy test` reads: `METHOD /path?query [body]`.
import { request } from 'node:http';
import { isWardenError, WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import type { VerdictReport } from '../../gateway/verdict.js';
import { openInProcess } from './in-process.js';
import type { ExecOutcome, ExecRequest } from './index.js';

/** Response body bytes returned to the caller (the recording keeps its own cap). */
const MAX_BODY = 1024 * 1024;

export interface HttpExchange {
  status: number;
  headers: Record<string, string>;
  body: string;
  truncated: boolean;
  verdicts: VerdictReport[];
}

/** One request through the HTTP engine in-process, as `identity` (`caller`: api or mcp). */
export async function httpInProcess(
  gw: Gateway,
  identity: Identity,
  connection: string,
  req: { method: string; target: string; headers?: Record<string, string>; body?: string },
  caller: 'api' | 'mcp',
): Promise<HttpExchange> {
  const { stream, verdicts, refused: refusal } = openInProcess(gw, 'http', 'HTTP', identity, connection, caller);
  const target = req.target.startsWith('/') ? req.target : `/${req.target}`;
  let exchange: HttpExchange;
  try {
    exchange = await new Promise<HttpExchange>((resolve, reject) => {
      const body = req.body ? Buffer.from(req.body, 'utf8') : null;
      const headers: Record<string, string> = { ...(req.headers ?? {}) };
      if (body) {
        headers['content-length'] = String(body.length);
        headers['content-type'] ??= looksJson(req.body!) ? 'application/json' : 'text/plain; charset=utf-8';
      }
      const r = request(
        {
          createConnection: () => stream as never,
          method: req.method,
          path: `/${encodeURIComponent(connection)}${target}`,
          headers: { host: 'warden.in-process', ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          let truncated = false;
          res.on('data', (c: Buffer) => {
            if (bytes < MAX_BODY) chunks.push(c.subarray(0, MAX_BODY - bytes));
            else truncated = true;
            bytes += c.length;
          });
          res.on('error', reject);
          res.on('end', () => {
            const out: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
            resolve({
              status: res.statusCode ?? 0,
              headers: out,
              body: Buffer.concat(chunks).toString('utf8'),
              truncated: truncated || bytes > MAX_BODY,
              verdicts,
            });
          });
        },
      );
      r.on('error', reject);
      r.end(body ?? undefined);
    });
  } finally {
    stream.destroy();
  }
  // The session was never opened (no grant, unknown connection, limits): the core's refusal, as
  // the API's own error, not as a response from the target.
  const refused = refusal();
  if (refused !== undefined && isWardenError(refused)) throw refused;
  return exchange;
}

function looksJson(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith('{') || t.startsWith('[');
}

/** `METHOD /path?query [body]`. */
export function parseExecInput(input: string): { method: string; target: string; body?: string } {
  const m = /^\s*([A-Za-z]+)\s+(\S+)(?:\s+([\s\S]*))?$/.exec(input);
  if (!m) throw new WardenError('WARDEN_USAGE', 'an HTTP operation is: METHOD /path [body], e.g. GET /customers');
  const body = m[3]?.trim();
  return { method: m[1]!.toUpperCase(), target: m[2]!, ...(body ? { body } : {}) };
}

export async function httpExec(gw: Gateway, identity: Identity, req: ExecRequest): Promise<ExecOutcome> {
  const input = parseExecInput(req.input);
  const x = await httpInProcess(gw, identity, req.connection, input, 'api');
  return outcomeOf(x);
}

/** The Verdict the session enforced and the response, as an ExecResult. */
export function outcomeOf(x: HttpExchange): ExecOutcome {
  const v = x.verdicts.find((r) => r.effect === 'block' || r.effect === 'review') ?? x.verdicts.at(-1);
  const refusedBy = v && (v.effect === 'block' || v.effect === 'review') ? v : undefined;
  const out: ExecOutcome = {
    outcome: refusedBy ? (refusedBy.effect === 'review' ? 'review' : 'blocked') : x.status >= 400 ? 'error' : 'ok',
    effect: v?.effect ?? 'block',
    rules: v?.rules ?? [],
    status: x.status,
    headers: x.headers,
    body: x.body,
  } as ExecOutcome;
  if (v) out.operation = v.op;
  if (v?.reviewId) out.reviewId = v.reviewId;
  if (v?.approvers && refusedBy?.effect === 'review') out.approvers = v.approvers;
  if (v?.terminate) out.sessionEnded = true;
  if (refusedBy?.message) out.message = refusedBy.message;
  else if (x.status >= 400) out.message = problemDetail(x.body) ?? `HTTP ${x.status}`;
  if (x.truncated) (out as Record<string, unknown>).truncated = true;
  return out;
}

function problemDetail(body: string): string | undefined {
  try {
    const p = JSON.parse(body) as { detail?: unknown };
    return typeof p.detail === 'string' ? p.detail : undefined;
  } catch {
    return undefined;
  }
}
