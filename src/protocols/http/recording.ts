// One JSON-lines `result` event per exchange (DESIGN §8, HTTP): the request line, safe headers,
// the request body and the response body as the client received them (masked), each capped,
// the status and timings. Credentials (Authorization, Cookie, injected headers) are never kept.
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { GatewaySession, OperationResult } from '../../gateway/index.js';
import type { Masker } from '../../masking/index.js';
import { injectedNames } from './request.js';
import type { HttpConnectionConfig } from './upstream.js';

/** Bytes of each body kept in the recording. */
export const RECORD_BODY_BYTES = 64 * 1024;

const NEVER_RECORDED = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
]);

export function safeHeaders(headers: IncomingHttpHeaders, conn: HttpConnectionConfig): Record<string, string> {
  const injected = injectedNames(conn);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || NEVER_RECORDED.has(k) || injected.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

interface RequestPart {
  method: string;
  target: string;
  headers: Record<string, string>;
  /** The request body when it was read whole (≤ 1 MiB), else null. */
  body: Buffer | null;
  bodyBytes: number | null;
  masker: Masker | null;
  started: number;
}

export class ExchangeRecord {
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private responseBytes = 0;
  private upstreamMs: number | null = null;
  private done = false;

  constructor(
    private readonly session: GatewaySession,
    private readonly op: string,
    private readonly request: RequestPart,
  ) {}

  upstreamHeaders(): void {
    this.upstreamMs = Math.round(performance.now() - this.request.started);
  }

  /** A pass-through stage that keeps the first RECORD_BODY_BYTES of the (masked) response. */
  tap(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb: TransformCallback) => {
        this.keep(chunk, true);
        cb(null, chunk);
      },
    });
  }

  /**
   * Keeps the first RECORD_BODY_BYTES of the (masked) response. `copy`: the chunk may be reused
   * by its stream; a body read whole (never written to again) is kept as it is.
   */
  keep(chunk: Buffer, copy = false): void {
    this.responseBytes += chunk.length;
    if (this.keptBytes < RECORD_BODY_BYTES) {
      const part = chunk.subarray(0, RECORD_BODY_BYTES - this.keptBytes);
      this.kept.push(copy ? Buffer.from(part) : part);
      this.keptBytes += part.length;
    }
  }

  /** A relayed WebSocket (not inspected): the upgrade and the bytes each way. */
  finishRelay(toClient: number, toTarget: number, cut: string | null): void {
    if (this.done) return;
    this.finish(101, cut, '[WebSocket relayed: messages not inspected]', {
      responseBytes: toClient,
      requestBytes: toTarget,
    });
  }

  /** Write the exchange's event (once). `responseText`: a gateway-made body (a problem). */
  finish(status: number, error: string | null, responseText?: string, extra: Record<string, unknown> = {}): void {
    if (this.done) return;
    this.done = true;
    const m = this.request.masker;
    const reqBody = this.request.body;
    let requestBody: string | null = null;
    if (reqBody && reqBody.length > 0) {
      const text = reqBody.subarray(0, RECORD_BODY_BYTES).toString('utf8');
      requestBody = m ? (reqBody.length <= RECORD_BODY_BYTES ? m.maskJsonText(text) : m.maskText(text)) : text;
    }
    const output =
      responseText ??
      (this.kept.length === 1 ? this.kept[0]!.toString('utf8') : Buffer.concat(this.kept).toString('utf8'));
    const result: OperationResult & Record<string, unknown> = {
      status,
      output,
      request: {
        method: this.request.method,
        target: this.request.target,
        headers: this.request.headers,
        body: requestBody,
        bodyBytes: this.request.bodyBytes,
      },
      responseBytes: responseText === undefined ? this.responseBytes : Buffer.byteLength(responseText),
      truncated: responseText === undefined && this.responseBytes > this.keptBytes,
      upstreamMs: this.upstreamMs,
      totalMs: Math.round(performance.now() - this.request.started),
    };
    if (error) result.error = error;
    this.session.recordResult(this.op, { ...result, ...extra });
  }
}
