// The HTTP front door (DESIGN §8, HTTP). One listener serves TLS (the gateway's certificate) and,
// from loopback only, plain HTTP, told apart by the first byte. Requests route by their first
// path segment to a connection; each request is one `http` operation decided by the core before
// anything reaches the upstream, then forwarded with the connection's credentials (the client's
// token never leaves the gateway) and its response streamed back masked.
//
// Sessions: one GatewaySession per client connection and token (a request with another token on
// the same connection gets its own session); expiry and revocation are checked on every request.
// In-process callers (REST exec, MCP) get one session per stream for the identity they verified.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { type Duplex, duplexPair, type PassThrough, pipeline, type Transform } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Dispatcher } from 'undici';
import type { Problem } from '../../api/problem.js';
import { WardenError } from '../../core/errors.js';
import type { GatewaySession, Verdict } from '../../gateway/index.js';
import type { ClientStream, EngineHost, EngineInstance, InProcessRequest, ProtocolEngine } from '../engine.js';
import { type Admission, closeWith, IN_PROCESS_ADMISSION } from '../limits.js';
import { bodyKind, maskingTransform, maskWhole } from './body-masking.js';
import { bodyOverride, OverrideRefused, overrideScanner, queryOverride } from './method-override.js';
import { normalizeTarget } from './path.js';
import { httpProblem, openProblem, rawProblem, sendProblem, verdictProblem } from './problem.js';
import { ExchangeRecord, safeHeaders } from './recording.js';
import {
  type Admitted,
  type BodyHead,
  operationText,
  readHead,
  requestBody,
  requestFacts,
  unreadBody,
  upstreamHeaders,
} from './request.js';
import { decompressor, headerValue, responseHeaders } from './response.js';
import { type HttpConnectionConfig, UpstreamPools, upstreamFailure } from './upstream.js';
import { serveUpgrade } from './websocket.js';

export { rewriteLocation } from './response.js';

/** Request bodies up to this size are read before the decision and parsed as JSON. */
export const MAX_JSON_BODY = 1024 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;
/** Responses of a known length up to this size are read whole, then masked and sent in one write. */
const WHOLE_BODY_BYTES = 64 * 1024;
const TLS_HANDSHAKE = 0x16;

/** What the front door knows about one client connection. */
interface ClientState {
  admission: Admission;
  inProcess: InProcessRequest | null;
  /** Sessions by connection and token (hash). */
  sessions: Map<string, Promise<GatewaySession>>;
  seenRequest: boolean;
  /** Requests being answered. */
  active: number;
  /** Runs once no request is being answered (a parse error waits for them). */
  whenIdle: (() => void) | null;
  /** Requests and relays still running: the sessions end after them, so their results are recorded. */
  inFlight: Set<Promise<void>>;
  /** The last bearer token seen on this connection and its session key (not hashed again per request). */
  lastToken: { token: string; hash: string } | null;
}

class HttpFrontDoor implements EngineInstance {
  private readonly server: Server;
  private readonly clients = new Map<Duplex, ClientState>();
  private readonly pools = new UpstreamPools();
  private closing: string | null = null;

  constructor(private readonly host: EngineHost) {
    this.server = createServer(
      { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 120_000, headersTimeout: 30_000, keepAliveTimeout: 30_000 },
      (req, res) => this.onRequest(req, res, false),
    );
    // `Expect: 100-continue`: no automatic 100; the request is answered (or let go on) first.
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res, true));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const work = this.upgrade(req, socket, head).catch((err: unknown) => {
        this.host.logger.warn({ err }, 'http upgrade failed');
        closeWith(socket, rawProblem(500, 'the gateway failed to handle the upgrade'));
      });
      this.track(socket, work);
    });
    // Malformed request lines, oversized headers, a body longer than its framing: a problem, then close.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable) {
        socket.destroy();
        return;
      }
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const detail =
        status === 431
          ? `request headers larger than ${MAX_HEADER_BYTES} bytes`
          : status === 408
            ? 'the request did not arrive in time'
            : 'malformed HTTP request';
      // A request still being answered on this connection (pipelined before the bad bytes)
      // finishes first; then the problem, then close.
      const st = this.clients.get(socket);
      // The connection's sessions end with why (audited), not as a plain disconnect.
      if (st)
        for (const x of st.sessions.values())
          x.then((g) => g.close(`malformed HTTP request: ${detail}`)).catch(() => {});
      if (st && st.active > 0) st.whenIdle = () => closeWith(socket, rawProblem(status, detail));
      else closeWith(socket, rawProblem(status, detail));
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    const work = this.handle(req, res, expectContinue).catch((err: unknown) => {
      this.host.logger.warn({ err }, 'http request failed');
      sendProblem(res, httpProblem(500, 'the gateway failed to handle the request'));
    });
    this.track(req.socket, work);
  }

  private track(socket: Duplex, work: Promise<void>): void {
    const st = this.clients.get(socket);
    if (!st) return;
    st.inFlight.add(work);
    void work.finally(() => st.inFlight.delete(work));
  }

  refusal(message: string): Buffer {
    return rawProblem(503, message);
  }

  serve(socket: ClientStream, admission: Admission): Promise<void> {
    // Responses are written as they come (headers, then chunks): no Nagle delay between them.
    (socket as Partial<Socket>).setNoDelay?.(true);
    return new Promise<void>((resolve) => {
      const onAbort = () => {
        const st = this.clients.get(socket);
        if (!st?.seenRequest) closeWith(socket, rawProblem(408, 'no request within the handshake deadline'));
      };
      admission.signal.addEventListener('abort', onAbort, { once: true });
      socket.once('close', () => resolve());
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        if (first[0] === TLS_HANDSHAKE) {
          if (!this.host.tls) {
            socket.destroy();
            return;
          }
          const tls = new TLSSocket(socket as never, { isServer: true, ...this.host.tls });
          tls.on('error', () => tls.destroy());
          this.attach(tls, admission, null);
          socket.once('close', () => tls.destroy());
          return;
        }
        if (!isLoopback(socket.remoteAddress)) {
          closeWith(socket, rawProblem(400, 'plain HTTP is served on loopback only: use https'));
          return;
        }
        this.attach(socket, admission, null);
        socket.resume();
      });
      socket.resume();
    });
  }

  inProcess(req: InProcessRequest): Duplex {
    const [client, server] = duplexPair({ allowHalfOpen: false });
    server.once('close', () => (client.readableEnded ? client.destroy() : client.once('end', () => client.destroy())));
    this.attach(server, IN_PROCESS_ADMISSION, req);
    return client;
  }

  private attach(stream: Duplex, admission: Admission, inProcess: InProcessRequest | null): void {
    const st: ClientState = {
      admission,
      inProcess,
      sessions: new Map(),
      seenRequest: false,
      active: 0,
      whenIdle: null,
      inFlight: new Set(),
      lastToken: null,
    };
    this.clients.set(stream, st);
    stream.once('close', () => {
      this.clients.delete(stream);
      const sessions = [...st.sessions.values()];
      st.sessions.clear();
      void Promise.allSettled([...st.inFlight]).then(() => {
        for (const s of sessions) s.then((x) => x.close('client disconnected')).catch(() => {});
      });
    });
    this.server.emit('connection', stream);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const st = this.clients.get(req.socket);
    if (!st) {
      res.destroy();
      return;
    }
    st.seenRequest = true;
    st.admission.handshakeDone();
    st.active++;
    // Set once the request is being decided: a client gone before its answer is finished aborts
    // a review hold or the upstream request.
    let abort: AbortController | null = null;
    res.once('close', () => {
      if (abort && !res.writableFinished) abort.abort();
      st.active--;
      if (st.active === 0 && st.whenIdle) {
        const idle = st.whenIdle;
        st.whenIdle = null;
        idle();
      }
    });
    const admitted = await this.admit(st, req);
    if (!admitted.ok) {
      // A client waiting for 100 Continue never sends its body: the connection cannot go on.
      sendProblem(
        res,
        admitted.problem,
        expectContinue ? { ...admitted.headers, connection: 'close' } : admitted.headers,
      );
      return;
    }
    const { target, method, session, conn } = admitted;
    if (method === 'OPTIONS' && /^\s*0+\s*$/.test(headerValue(req.headers['max-forwards']) ?? '')) {
      await this.answerProbe(st, res, session, conn);
      return;
    }

    // Read the body's head: up to MAX_JSON_BODY is known before the decision. A client waiting
    // for `100 Continue` with a body too large to be read first is decided on its headers, and
    // gets its refusal without uploading anything; a smaller body is asked for (the decision
    // reads it as op.http.json) once the identity and the grant are known.
    const declared = Number(req.headers['content-length']);
    const decideFirst = expectContinue && Number.isSafeInteger(declared) && declared > MAX_JSON_BODY;
    if (expectContinue && !decideFirst) res.writeContinue();
    let body: BodyHead | null;
    if (decideFirst) body = unreadBody();
    else {
      const head = readHead(req, MAX_JSON_BODY);
      body = head instanceof Promise ? await head.catch(() => null) : head;
    }
    if (!body) {
      res.destroy();
      return;
    }
    const formOverride = bodyOverride(method, req.headers['content-type'], body.chunks, body.ended);
    if (formOverride) {
      sendProblem(res, httpProblem(formOverride.status, formOverride.detail), { connection: 'close' });
      req.resume();
      return;
    }
    const facts = requestFacts(req, method, target.path, target.rawQuery, body);
    const textMasker = session.currentMasker;
    const requestTarget = target.rawQuery ? `${target.path}?${target.rawQuery}` : target.path;
    const text = operationText(method, requestTarget, body, facts, textMasker);

    abort = new AbortController();
    const started = performance.now();
    // pipelineAudit: a GET/HEAD without a body is forwarded while its audit entry commits (its
    // response is held until the entry is committed: `auditHold`).
    const decided = session.decideOrWait(
      { kind: 'http', text, http: facts },
      { signal: abort.signal, pipelineAudit: true },
    );
    const verdict = decided instanceof Promise ? await decided : decided;
    const record = new ExchangeRecord(session, verdict.op.id, {
      method,
      target: requestTarget,
      headers: safeHeaders(req.headers, conn),
      body: body.ended ? Buffer.concat(body.chunks) : null,
      bodyBytes: facts.bodyBytes ?? null,
      masker: verdict.masker ?? textMasker,
      started,
    });
    if (verdict.refusal) {
      const p = verdictProblem(verdict);
      if (verdict.terminate) this.endSession(st, session, 'identity no longer valid');
      // A body the client never sent (no 100 Continue) leaves the connection unusable: close it.
      sendProblem(res, p, decideFirst ? { connection: 'close' } : {});
      record.finish(p.status, null, JSON.stringify(p));
      req.resume();
      return;
    }
    if (abort.signal.aborted) {
      record.finish(0, 'client disconnected before the request was forwarded');
      return;
    }
    if (decideFirst) {
      res.writeContinue();
      body.rest = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    }
    await this.forward(st, req, res, conn, session, verdict, target.path, target.rawQuery, body, record, abort);
  }

  /**
   * `OPTIONS` with `Max-Forwards: 0` is for the first intermediary to answer (RFC 9110 §7.6.2):
   * the gateway answers it itself, never forwarding it, so a client can open its session (token,
   * grant and limits checked, as at a login) and learn whether the target is reachable (a
   * connection opened and closed, TLS verified, no request sent) without running an operation.
   * A target that cannot be reached ends the session, as any failure of the target does.
   */
  private async answerProbe(
    st: ClientState,
    res: ServerResponse,
    session: GatewaySession,
    conn: HttpConnectionConfig,
  ): Promise<void> {
    const name = session.connection.name;
    try {
      await this.pools.get(name, conn).reachable();
    } catch (err) {
      const f = upstreamFailure(err, name);
      sendProblem(res, httpProblem(f.status, f.detail), { connection: 'close' });
      this.endSession(st, session, f.detail);
      return;
    }
    res.writeHead(204, { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', 'cache-control': 'no-store' });
    res.end();
  }

  /** A WebSocket upgrade: decided once as an http operation, then relayed (websocket.ts). */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const st = this.clients.get(socket);
    if (!st) {
      socket.destroy();
      return;
    }
    st.seenRequest = true;
    st.admission.handshakeDone();
    await serveUpgrade(
      {
        admit: (r) => this.admit(st, r),
        endSession: (session, reason) => this.endSession(st, session, reason),
        upstream: (name, conn) => this.pools.get(name, conn),
      },
      req,
      socket,
      head,
    );
  }

  /**
   * What every request passes before its decision: a target that names a connection and is not
   * ambiguous, a method that is forwarded, no `_method` override in the query, and a session
   * (token verified, grant and limits checked).
   */
  private async admit(st: ClientState, req: IncomingMessage): Promise<Admitted> {
    const refuse = (problem: Problem, headers: Record<string, string> = {}): Admitted => ({
      ok: false,
      problem,
      headers,
    });
    if (this.closing) return refuse(httpProblem(503, this.closing), { connection: 'close' });
    const target = normalizeTarget(req.url ?? '');
    if (!target.ok) return refuse(httpProblem(target.status, target.detail));
    const method = (req.method ?? 'GET').toUpperCase();
    if (method === 'TRACE' || method === 'CONNECT') {
      return refuse(httpProblem(405, `${method} is not forwarded`), {
        allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
      });
    }
    const override = queryOverride(method, target.rawQuery);
    if (override) return refuse(httpProblem(400, override));
    let session: GatewaySession;
    try {
      session = await this.sessionFor(st, target.connection, req);
    } catch (err) {
      const p = openProblem(err);
      return refuse(p, p.status === 401 ? { 'www-authenticate': 'Bearer' } : {});
    }
    st.admission.authenticated();
    return { ok: true, target, method, session, conn: session.connectionConfig as HttpConnectionConfig };
  }

  private async forward(
    st: ClientState,
    req: IncomingMessage,
    res: ServerResponse,
    conn: HttpConnectionConfig,
    session: GatewaySession,
    verdict: Verdict,
    path: string,
    rawQuery: string,
    body: BodyHead,
    record: ExchangeRecord,
    abort: AbortController,
  ): Promise<void> {
    const masker = verdict.masker;
    const upstream = this.pools.get(session.connection.name, conn);
    const headers = upstreamHeaders(req, conn, masker !== null);
    const method = verdict.op.kind === 'http' ? verdict.op.http.method : 'GET';
    let up: Dispatcher.ResponseData;
    try {
      up = await upstream.pool.request({
        path: `${upstream.basePath}${path}${rawQuery ? `?${rawQuery}` : ''}`,
        method: method as 'GET',
        headers,
        body: requestBody(body, overrideScanner(method, headerValue(req.headers['content-type']))),
        signal: abort.signal,
      });
    } catch (err) {
      if (abort.signal.aborted) {
        record.finish(0, 'client disconnected');
        return;
      }
      // Even the gateway's own answer about the target waits for the operation's audit entry.
      const held = this.auditHold(st, res, session, verdict, record);
      if (held !== true && !(await held)) return;
      const refused = overrideIn(err);
      if (refused) {
        // The upstream got a cut body, never a whole request to run.
        const p = httpProblem(400, refused.message, { operation: verdict.op.id });
        sendProblem(res, p, { connection: 'close' });
        record.finish(400, refused.message);
        return;
      }
      const f = upstreamFailure(err, session.connection.name);
      this.host.logger.warn(
        { connection: session.connection.name, code: (err as { code?: string }).code },
        'http upstream failed',
      );
      const p = httpProblem(f.status, f.detail, { operation: verdict.op.id });
      // The target failed under the session: it ends (audited with why) with the connection,
      // as a database session ends with its server; the client's next connection opens a new one.
      sendProblem(res, p, { connection: 'close' });
      record.finish(f.status, f.detail);
      this.endSession(st, session, f.detail);
      return;
    }
    record.upstreamHeaders();

    const out = responseHeaders(up.headers, upstream.origin, upstream.basePath, session.connection.name);
    const noBody = method === 'HEAD' || up.statusCode === 204 || up.statusCode === 304 || up.statusCode < 200;
    const encoding = (headerValue(up.headers['content-encoding']) ?? 'identity').trim().toLowerCase();
    const length = Number(headerValue(up.headers['content-length']) ?? Number.NaN);
    if (!noBody && (encoding === 'identity' || encoding === '') && length >= 0 && length <= WHOLE_BODY_BYTES) {
      await this.answerWhole(st, res, session, verdict, record, up, out, abort);
      return;
    }
    const held = this.auditHold(st, res, session, verdict, record);
    if (held !== true) {
      // While held, a client that goes away aborts the request and so errors the body, which
      // nothing reads yet: that error is the disconnect, handled where the body is piped.
      up.body.on('error', () => {});
      if (!(await held)) {
        up.body.destroy();
        return;
      }
    }
    const stages: (Transform | PassThrough)[] = [];
    // A bodiless answer (HEAD, 304) still announces the length of the body a GET would get:
    // that body would be masked, so its unmasked length is not told.
    if (masker && noBody && bodyKind(headerValue(up.headers['content-type'])) !== 'binary')
      delete out['content-length'];
    if (masker && !noBody) {
      const kind = bodyKind(headerValue(up.headers['content-type']));
      const transform = maskingTransform(kind, masker);
      if (transform) {
        if (encoding !== 'identity' && encoding !== '') {
          const decoder = decompressor(encoding);
          if (!decoder) {
            up.body.destroy();
            const p = httpProblem(502, `the target sent a ${encoding}-encoded body that cannot be masked`, {
              operation: verdict.op.id,
            });
            sendProblem(res, p);
            record.finish(502, p.detail);
            return;
          }
          stages.push(decoder);
          delete out['content-encoding'];
        }
        stages.push(transform);
        delete out['content-length'];
      }
    }
    const tap = record.tap();
    res.writeHead(up.statusCode, out);
    if (noBody) {
      up.body.resume();
      res.end();
      record.finish(up.statusCode, null);
      return;
    }
    // A stream without a length (SSE, chunked) gets its headers at once, before the first chunk.
    if (out['content-length'] === undefined) res.flushHeaders();
    await new Promise<void>((resolve) => {
      pipeline([up.body, ...stages, tap, res], (err) => {
        if (err) {
          const why =
            abort.signal.aborted || res.destroyed ? 'client disconnected or target reset mid-response' : err.message;
          if (!res.destroyed) res.destroy();
          if (String((err as NodeJS.ErrnoException).code ?? '') !== 'ERR_STREAM_PREMATURE_CLOSE')
            this.host.logger.warn({ connection: session.connection.name, reason: why }, 'http response cut');
          record.finish(up.statusCode, why);
        } else record.finish(up.statusCode, null);
        resolve();
      });
    });
  }

  /**
   * A small response of known length (the common API answer): read whole, masked in one piece
   * and written with its headers in one write, without the streaming stages' per-chunk cost.
   */
  private async answerWhole(
    st: ClientState,
    res: ServerResponse,
    session: GatewaySession,
    verdict: Verdict,
    record: ExchangeRecord,
    up: Dispatcher.ResponseData,
    out: Record<string, string | string[]>,
    abort: AbortController,
  ): Promise<void> {
    let body: Buffer;
    try {
      const bytes = await up.body.bytes();
      body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      const why = abort.signal.aborted ? 'client disconnected or target reset mid-response' : (err as Error).message;
      if (!res.destroyed) res.destroy();
      record.finish(up.statusCode, why);
      return;
    }
    const held = this.auditHold(st, res, session, verdict, record);
    if (held !== true && !(await held)) return;
    const masker = verdict.masker;
    if (masker) {
      try {
        body = maskWhole(bodyKind(headerValue(up.headers['content-type'])), masker, body);
      } catch (err) {
        // Fails closed as the streaming masker does: nothing of an unmaskable body goes out.
        const why = (err as Error).message;
        this.host.logger.warn({ connection: session.connection.name, reason: why }, 'http response cut');
        res.destroy();
        record.finish(up.statusCode, why);
        return;
      }
    }
    out['content-length'] = String(body.length);
    record.keep(body);
    res.writeHead(up.statusCode, out);
    res.end(body);
    record.finish(up.statusCode, null);
  }

  /**
   * Pipelined audit (`verdict.audit`): whether the response may go out — true now, a promise to
   * wait on while the entry commits, or false once it could not be written. Then the client gets
   * a 503 instead of the target's answer and the session ends (as a database session does): no
   * response is ever returned for an operation whose audit entry did not commit.
   */
  private auditHold(
    st: ClientState,
    res: ServerResponse,
    session: GatewaySession,
    verdict: Verdict,
    record: ExchangeRecord,
  ): boolean | Promise<boolean> {
    const audit = verdict.audit;
    if (audit === null || audit.state === true) return true;
    const refuse = (): false => {
      const detail = 'the audit record could not be written; the session is ended';
      const p = httpProblem(503, detail, { operation: verdict.op.id, code: 'WARDEN_AUDIT_WRITE_FAILED' });
      sendProblem(res, p, { connection: 'close' });
      record.finish(503, detail, JSON.stringify(p));
      this.endSession(st, session, 'audit write failed after a pipelined request');
      return false;
    };
    if (audit.state === false) return refuse();
    return audit.settled.then((ok) => ok || refuse());
  }

  private async sessionFor(st: ClientState, connection: string, req: IncomingMessage): Promise<GatewaySession> {
    const inProcess = st.inProcess;
    if (inProcess) {
      if (connection !== inProcess.connection)
        throw new WardenError('WARDEN_ACCESS_DENIED', `this session serves connection '${inProcess.connection}' only`);
      let s = st.sessions.get(connection);
      if (!s) {
        s = this.host
          .openSession({
            protocol: inProcess.caller,
            connection,
            identity: inProcess.identity,
            onVerdict: inProcess.onVerdict,
          })
          .catch((err: unknown) => {
            inProcess.onRefused?.(err);
            throw err;
          });
        st.sessions.set(connection, s);
        s.catch(() => st.sessions.delete(connection));
      }
      return checkType(await s);
    }
    const token = bearerToken(req.headers.authorization);
    if (!token)
      throw new WardenError('WARDEN_TOKEN_INVALID', 'send the identity token as Authorization: Bearer <token>');
    let hash = st.lastToken?.token === token ? st.lastToken.hash : null;
    if (hash === null) {
      hash = createHash('sha256').update(token).digest('base64');
      st.lastToken = { token, hash };
    }
    const key = `${connection}\0${hash}`;
    const existing = st.sessions.get(key);
    if (existing) {
      // The same token (by hash) whose signature this session verified: expiry and revocation
      // are checked again by every decision (the core's identity check, per operation), which
      // answers 401 and ends the session.
      return checkType(await existing);
    }
    const opened = this.host.openSession({
      protocol: 'http',
      connection,
      token,
      clientAddress: req.socket.remoteAddress ?? '',
    });
    st.sessions.set(key, opened);
    opened.catch(() => st.sessions.delete(key));
    return checkType(await opened);
  }

  /** End one session of this client connection (its next request opens a new one). */
  private endSession(st: ClientState, session: GatewaySession, reason: string): void {
    for (const [k, s] of st.sessions) {
      s.then((x) => {
        if (x === session) st.sessions.delete(k);
      }).catch(() => {});
    }
    session.close(reason).catch(() => {});
  }

  async close(reason: string): Promise<void> {
    this.closing = reason;
    for (const [stream, st] of this.clients) {
      for (const s of st.sessions.values()) await s.then((x) => x.close(reason)).catch(() => {});
      stream.destroy();
    }
    this.clients.clear();
    await this.pools.close();
  }
}

function checkType(session: GatewaySession): GatewaySession {
  if (session.connectionConfig.type !== 'http') {
    session.close('not an HTTP connection').catch(() => {});
    throw new WardenError('WARDEN_USAGE', `connection '${session.connection.name}' is not an HTTP connection`);
  }
  return session;
}

export const httpEngine: ProtocolEngine = {
  name: 'http',
  create: (host) => new HttpFrontDoor(host),
};

/** The OverrideRefused behind an upstream request's failure (undici may wrap the body's error). */
function overrideIn(err: unknown): OverrideRefused | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++)
    if (e instanceof OverrideRefused) return e;
  return null;
}

function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return m ? (m[1] as string) : null;
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
