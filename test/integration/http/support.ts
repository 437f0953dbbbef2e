// The HTTP front door's test fixture: a real upstream (node:http or node:https with a test CA
// made by openssl), the gateway on free loopback ports with `listen.http`, and real curl.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { parseConfig } from '../../../src/config/index.js';
import { createLogger, freePort } from '../../../src/gateway/index.js';
import { type RunningGateway, startGateway } from '../../../src/server/index.js';
import { gatewayYamlHead } from '../../helpers/gateway.js';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Upstream {
  port: number;
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export async function startUpstream(
  handler: Handler,
  tls?: { cert: string; key: string },
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  };
  const server: Server = tls ? createHttps({ cert: tls.cert, key: tls.key }, onRequest) : createHttp(onRequest);
  if (onUpgrade) server.on('upgrade', onUpgrade);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface HttpGateway {
  running: RunningGateway;
  httpPort: number;
  apiUrl: string;
  dir: string;
  /** The gateway's own certificate (self-signed, into dataDir), for curl --cacert. */
  gatewayCa: string;
  token(sub: string, groups: string[], ttlMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startHttpGateway(opts: {
  connections: string;
  policy: string;
  env?: Record<string, string>;
}): Promise<HttpGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-http-'));
  const apiPort = await freePort();
  const yaml = `${gatewayYamlHead(dir, apiPort, 'http')}connections:
${opts.connections}
${opts.policy}
`;
  await writeFile(join(dir, 'warden.yaml'), yaml);
  const { config } = parseConfig(yaml, { baseDir: dir, env: { ...process.env, ...opts.env } });
  const running = await startGateway(config, {
    logger: createLogger({ level: process.env.WARDEN_TEST_LOG ?? 'silent' }),
  });
  return {
    running,
    httpPort: running.ports.http as number,
    apiUrl: running.apiUrl,
    dir,
    gatewayCa: join(dir, 'data', 'tls-cert.pem'),
    token: (sub, groups, ttlMs = 15 * 60_000) => running.devIssuer!.mint({ sub, groups, ttlMs }),
    async stop() {
      await running.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Real curl; `-i` output split into status, headers (last response) and body. */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-i', '--max-time', '20', ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err && !stdout) {
        reject(err);
        return;
      }
      const text = stdout.toString();
      const split = text.lastIndexOf('\r\n\r\n', findHeaderEnd(text));
      const head = text.slice(0, split);
      const body = text.slice(split + 4);
      const lines = head.split('\r\n');
      const blocks = head.split('\r\n\r\n');
      const last = (blocks[blocks.length - 1] ?? '').split('\r\n');
      const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(last[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of last.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      void lines;
      resolve({ status, headers, body });
    });
  });
}

// The end of the last header block (curl -i prints 100 Continue and redirects' heads first).
function findHeaderEnd(text: string): number {
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) return text.length;
    const next = text.slice(end + 4, end + 9);
    if (!next.startsWith('HTTP/')) return end;
    at = end + 4;
  }
}
