// WebSocket upgrades (RFC 6455) on the HTTP front door (DESIGN §8, HTTP). Off unless the
// connection says `websocket: true`. When on, the upgrade is decided once, as the `http`
// operation it is (GET, its path, query and headers, `upgrade: websocket` among them), then the
// two sockets are relayed as bytes: messages are not inspected, so
//  - an identity whose responses on the connection are masked cannot open one (its messages
//    could not be masked): refused with 403 before and after the decision;
//  - the identity is checked again on every chunk and every second while the relay runs, so an
//    expired or revoked token cuts the relay;
//  - the recording holds the upgrade and the byte counts each way, not the messages.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Problem } from '../../api/problem.js';
import type { GatewaySession } from '../../gateway/index.js';
import { closeWith } from '../limits.js';
import { httpProblem, rawProblemOf, verdictProblem } from './problem.js';
import { ExchangeRecord, safeHeaders } from './recording.js';
import { type Admitted, requestFacts, upstreamHeaders } from './request.js';
import { type HttpConnectionConfig, hopHeaders, type Upstream, upstreamFailure } from './upstream.js';

/** What the front door lends an upgrade: admission, ending a session, the upstream pools. */
export interface UpgradeDoor {
  admit(req: IncomingMessage): Promise<Admitted>;
  endSession(session: GatewaySession, reason: string): void;
  upstream(name: string, conn: HttpConnectionConfig): Upstream;
}

/** Answer one upgrade request on `socket`: refused (a problem, then close) or relayed until either side ends. */
export async function serveUpgrade(
  door: UpgradeDoor,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  socket.on('error', () => {});
  const refuse = (p: Problem, headers: Record<string, string> = {}) => closeWith(socket, rawProblemOf(p, headers));
  if (!isWebSocketUpgrade(req)) {
    refuse(httpProblem(400, 'only WebSocket upgrades are relayed: send the request without Upgrade'));
    return;
  }
  const admitted = await door.admit(req);
  if (!admitted.ok) {
    refuse(admitted.problem, admitted.headers);
    return;
  }
  const { target, method, session, conn } = admitted;
  const name = session.connection.name;
  if (method !== 'GET') {
    refuse(httpProblem(400, 'a WebSocket upgrade is a GET request'));
    return;
  }
  if (conn.websocket !== true) {
    refuse(httpProblem(403, `WebSockets are not relayed on connection '${name}' (websocket: true turns them on)`));
    return;
  }
  const unmaskable = `WebSocket messages are not inspected, so an identity whose responses on '${name}' are masked cannot open one`;
  if (session.currentMasker) {
    refuse(httpProblem(403, unmaskable));
    return;
  }
  const body = { chunks: [], bytes: 0, ended: true, rest: null };
  const facts = requestFacts(req, method, target.path, target.rawQuery, body);
  const requestTarget = target.rawQuery ? `${target.path}?${target.rawQuery}` : target.path;
  const abort = new AbortController();
  socket.once('close', () => abort.abort());
  const started = performance.now();
  const text = `${method} ${requestTarget} [WebSocket upgrade]`;
  const verdict = await session.decide({ kind: 'http', text, http: facts }, { signal: abort.signal });
  const record = new ExchangeRecord(session, verdict.op.id, {
    method,
    target: requestTarget,
    headers: safeHeaders(req.headers, conn),
    body: null,
    bodyBytes: 0,
    masker: verdict.masker,
    started,
  });
  if (verdict.refusal || verdict.masker) {
    const p = verdict.refusal ? verdictProblem(verdict) : httpProblem(403, unmaskable, { operation: verdict.op.id });
    if (verdict.terminate) door.endSession(session, 'identity no longer valid');
    refuse(p);
    record.finish(p.status, null, JSON.stringify(p));
    return;
  }
  if (abort.signal.aborted) {
    record.finish(0, 'client disconnected before the upgrade was forwarded');
    return;
  }
  const upstream = door.upstream(name, conn);
  let up: Dispatcher.UpgradeData;
  try {
    up = await upstream.pool.upgrade({
      path: `${upstream.basePath}${target.path}${target.rawQuery ? `?${target.rawQuery}` : ''}`,
      method: 'GET',
      headers: upstreamHeaders(req, conn, false),
      protocol: 'websocket',
      signal: abort.signal,
    });
  } catch (err) {
    if (abort.signal.aborted) {
      record.finish(0, 'client disconnected');
      return;
    }
    const f = upstreamFailure(err, name);
    const detail =
      (err as { code?: string }).code === 'UND_ERR_SOCKET'
        ? `target '${name}' refused the WebSocket upgrade`
        : f.detail;
    const p = httpProblem(f.status, detail, { operation: verdict.op.id });
    refuse(p);
    record.finish(f.status, detail);
    return;
  }
  record.upstreamHeaders();
  const ended = await relay(socket, head, up.socket, switchingProtocols(up.headers), () => {
    const problem = session.identityProblem();
    return problem ? problem.message : null;
  });
  record.finishRelay(ended.toClient, ended.toTarget, ended.cut);
  if (ended.cut && session.identityProblem()) door.endSession(session, ended.cut);
}

/** How often an idle relay re-checks its identity. */
const IDENTITY_CHECK_MS = 1000;

/** The request asks to become a WebSocket (any other Upgrade is refused). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').trim().toLowerCase() === 'websocket';
}

/** The 101 head for the client: the upstream's answer, its hop-by-hop headers but the upgrade's own dropped. */
export function switchingProtocols(headers: Record<string, string | string[] | undefined>): Buffer {
  const hop = hopHeaders(headers.connection);
  let head = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n';
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || hop.has(k) || k === 'content-length') continue;
    for (const value of Array.isArray(v) ? v : [v]) {
      // Header values from the upstream go to the client verbatim: no line breaks smuggled in.
      if (/[\r\n]/.test(value)) continue;
      head += `${k}: ${value}\r\n`;
    }
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}

export interface RelayEnd {
  toClient: number;
  toTarget: number;
  /** Why the relay ended, when it was cut (an identity problem, an error); null for a close. */
  cut: string | null;
}

/**
 * Relay bytes both ways until either side closes; `identityProblem` is asked on every chunk and
 * every second, and a non-null answer cuts both sockets. Back-pressure both ways (pipe).
 */
export function relay(
  client: Duplex,
  clientHead: Buffer,
  target: Duplex,
  targetHead: Buffer,
  identityProblem: () => string | null,
): Promise<RelayEnd> {
  return new Promise((resolve) => {
    const end: RelayEnd = { toClient: 0, toTarget: 0, cut: null };
    let done = false;
    let lingering: NodeJS.Timeout | undefined;
    const finish = (cut: string | null) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(lingering);
      end.cut = cut;
      client.destroy();
      target.destroy();
      resolve(end);
    };
    const check = () => {
      const problem = identityProblem();
      if (problem) finish(problem);
    };
    const timer = setInterval(check, IDENTITY_CHECK_MS);
    timer.unref();
    client.on('data', (chunk: Buffer) => {
      end.toTarget += chunk.length;
      check();
    });
    target.on('data', (chunk: Buffer) => {
      end.toClient += chunk.length;
      check();
    });
    for (const [s, other] of [
      [client, target],
      [target, client],
    ] as const) {
      s.on('error', (err: Error) => finish(err.message));
      // One side gone: the other gets what is in flight (pipe ends it), then both are closed.
      s.on('close', () => {
        if (other.destroyed) finish(null);
        else {
          other.end();
          lingering ??= setTimeout(() => finish(null), 5000);
          other.once('close', () => finish(null));
        }
      });
    }
    if (targetHead.length > 0) {
      end.toClient += targetHead.length;
      client.write(targetHead);
    }
    if (clientHead.length > 0) {
      end.toTarget += clientHead.length;
      target.write(clientHead);
    }
    client.pipe(target);
    target.pipe(client);
  });
}
