// One client connection after the handshake: relays the v3 protocol between the client and the
// target, asks the core about every statement (simple Query and extended Parse/Bind), and
// enforces the verdict in protocol: refusals as ErrorResponse in the right place of the stream,
// masked DataRow/CopyData/error texts, recorded results. No policy logic lives here.
import type { Socket } from 'node:net';
import type { GatewaySession, PendingAudit, Verdict } from '../../gateway/index.js';
import type { Masker } from '../../masking/index.js';
import { buildColumnPlan, type ColumnPlan, withResultFormats } from './column-plan.js';
import type { ColumnSources } from './column-sources.js';
import { Flow, PAUSE_BACKPRESSURE, PAUSE_DECIDING, PAUSE_READ_AHEAD } from './flow.js';
import { OutBuffer } from './out-buffer.js';
import { type Pending, PendingQueue } from './pending.js';
import { ResultContext } from './result.js';
import type { Portal, Statement } from './statements.js';
import {
  BackendCode,
  type FieldDescription,
  FrontendCode,
  type MessageReader,
  MessageWriter,
  parseBind,
  parseClose,
  parseCommandComplete,
  parseDescribe,
  parseErrorResponse,
  parseExecute,
  parseNotificationResponse,
  parseParameterStatus,
  parseParse,
  parseQuery,
  parseReadyForQuery,
  parseRowDescription,
  rewriteErrorFields,
  type TransactionStatus,
  writeDescribe,
  writeErrorResponse,
  writeParameterStatus,
  writeReadyForQuery,
  writeTerminate,
} from './wire/index.js';

export interface UpstreamLink {
  socket: Socket;
  reader: MessageReader;
  cancel(): Promise<void>;
  /** The target backend's real pid and the pid the client was given instead. */
  realPid: number;
  clientPid: number;
}

const SQLSTATE_REFUSED = '42501'; // insufficient_privilege
const SQLSTATE_AUTH = '28000';
const SQLSTATE_PROTOCOL = '08P01';
const SQLSTATE_SYSTEM = '58000'; // system_error: the audit log could not be written
/** Target bytes read ahead while the server pump waits (e.g. for an audit commit) before pausing. */
const READ_AHEAD_LIMIT = 1024 * 1024;

// Message types a client may send after authentication, and those that are always small (the
// limit PostgreSQL applies to them, PQ_SMALL_MESSAGE_LIMIT).
const CLIENT_CODES = new Set<number>([
  FrontendCode.Query,
  FrontendCode.Parse,
  FrontendCode.Bind,
  FrontendCode.Describe,
  FrontendCode.Execute,
  FrontendCode.Close,
  FrontendCode.Sync,
  FrontendCode.Flush,
  FrontendCode.CopyData,
  FrontendCode.CopyDone,
  FrontendCode.CopyFail,
  FrontendCode.Terminate,
  FrontendCode.FunctionCall,
]);
const SMALL_MESSAGES = new Set<number>([
  FrontendCode.Describe,
  FrontendCode.Execute,
  FrontendCode.Close,
  FrontendCode.Sync,
  FrontendCode.Flush,
  FrontendCode.CopyDone,
  FrontendCode.CopyFail,
  FrontendCode.Terminate,
]);
const SMALL_MESSAGE_LIMIT = 10_000;
/** RowDescriptions kept parsed per session, and the largest one kept. */
const ROW_DESCRIPTION_CACHE_SIZE = 64;
const ROW_DESCRIPTION_CACHE_BYTES = 4096;

export class PgProxy {
  private readonly w = new MessageWriter();
  private readonly queue = new PendingQueue();
  private readonly statements = new Map<string, Statement>();
  private readonly portals = new Map<string, Portal>();
  private txStatus: TransactionStatus = 'I';
  /** Extended protocol: after a refusal, skip client messages until Sync (as the server does). */
  private discarding = false;
  private clientBusy = false;
  private serverBusy = false;
  private readonly toServer = new OutBuffer();
  private readonly toClient = new OutBuffer();
  private closed = false;
  /** Ends a review hold; made when first needed, replaced once used. */
  private holdAbort: AbortController | null = null;
  /** Decisions in progress (a CancelRequest only aborts a hold while one is). */
  private deciding = 0;
  private readonly clientFlow: Flow;
  private readonly serverFlow: Flow;
  private readonly keepRows: number;
  /** Parsed RowDescriptions by payload (see rowDescription), and column plans per shape. */
  private readonly shapes = new Map<string, FieldDescription[]>();
  private readonly plans = new WeakMap<FieldDescription[], Map<Masker, ColumnPlan>>();

  constructor(
    private readonly client: Socket,
    private readonly clientReader: MessageReader,
    private readonly upstream: UpstreamLink,
    private readonly session: GatewaySession,
    private readonly sources: ColumnSources,
    private readonly onClose: (proxy: PgProxy) => void,
  ) {
    this.clientFlow = new Flow(client);
    this.serverFlow = new Flow(upstream.socket);
    this.keepRows = session.recordRows;
  }

  start(): void {
    this.client.on('data', (chunk: Buffer) => {
      try {
        this.clientReader.push(chunk);
      } catch (err) {
        return this.protocolViolation(err);
      }
      void this.pumpClient();
    });
    this.upstream.socket.on('data', (chunk: Buffer) => {
      const reader = this.upstream.reader;
      try {
        reader.push(chunk);
      } catch (err) {
        return this.shutdown(`target protocol error: ${(err as Error).message}`);
      }
      // The pump is waiting (audit commit, catalog lookup): keep what is buffered bounded.
      if (this.serverBusy && reader.pending > READ_AHEAD_LIMIT) this.serverFlow.pause(PAUSE_READ_AHEAD);
      void this.pumpServer();
    });
    this.client.on('close', () => this.shutdown('client disconnected'));
    this.client.on('error', () => this.shutdown('client connection error'));
    this.upstream.socket.on('close', () => this.shutdown('target closed the connection', true));
    this.upstream.socket.on('error', () => this.shutdown('target connection error', true));
    this.client.on('drain', () => this.serverFlow.resume(PAUSE_BACKPRESSURE));
    this.upstream.socket.on('drain', () => this.clientFlow.resume(PAUSE_BACKPRESSURE));
    this.client.resume();
    this.upstream.socket.resume();
    void this.pumpClient();
    void this.pumpServer();
  }

  /** CancelRequest for this session: end a held review wait and cancel the running query. */
  async cancel(): Promise<void> {
    if (this.deciding > 0) this.abortHold();
    await this.upstream.cancel().catch(() => {});
  }

  // ───────────────────────────── client → server ─────────────────────────────

  private async pumpClient(): Promise<void> {
    if (this.clientBusy || this.closed) return;
    this.clientBusy = true;
    try {
      const reader = this.clientReader;
      while (!this.closed) {
        if (!reader.next()) {
          this.checkIncomplete(reader);
          break;
        }
        const wait = this.onClientMessage(reader);
        if (wait) {
          this.flushToServer();
          this.flushToClient();
          this.clientFlow.pause(PAUSE_DECIDING);
          await wait;
          this.clientFlow.resume(PAUSE_DECIDING);
        }
      }
      this.flushToServer();
      this.flushToClient();
    } catch (err) {
      this.protocolViolation(err);
    } finally {
      this.clientBusy = false;
    }
  }

  /**
   * Refuse an unknown type or an oversized control message as soon as its header arrives, as
   * PostgreSQL does, rather than buffering up to the reader's limit for a message we would refuse.
   */
  private checkIncomplete(reader: MessageReader): void {
    const code = reader.peekCode();
    if (code < 0) return;
    if (!CLIENT_CODES.has(code)) {
      this.terminateWith(SQLSTATE_PROTOCOL, `unknown message type 0x${code.toString(16)} from client`);
      return;
    }
    const length = reader.peekLength();
    if (length > SMALL_MESSAGE_LIMIT && SMALL_MESSAGES.has(code)) {
      this.terminateWith(
        SQLSTATE_PROTOCOL,
        `invalid message from client: message type 0x${code.toString(16)} of ${length} bytes is too large`,
      );
    }
  }

  /** Handle one client message; returns a promise when it needs the core's (async) decision. */
  private onClientMessage(m: MessageReader): Promise<void> | undefined {
    const { buffer: buf, start, length } = m;
    switch (m.code) {
      case FrontendCode.Query:
        return this.onQuery(parseQuery(buf, start, length), m.frame());
      case FrontendCode.Parse: {
        if (this.discarding) return undefined;
        const p = parseParse(buf, start, length);
        return this.onParse(p.name, p.text, m.frame());
      }
      case FrontendCode.Bind:
        if (this.discarding) return undefined;
        return this.onBind(parseBind(buf, start, length), m.frame());
      case FrontendCode.Describe: {
        if (this.discarding) return undefined;
        const d = parseDescribe(buf, start, length);
        const stmt = d.target === 'S' ? (this.statements.get(d.name) ?? null) : null;
        const portal = d.target === 'P' ? (this.portals.get(d.name) ?? null) : null;
        this.forward(m.frame());
        this.queue.push({ t: 'describe', stmt, portal, internal: false });
        return undefined;
      }
      case FrontendCode.Execute: {
        if (this.discarding) return undefined;
        this.onExecute(parseExecute(buf, start, length).portal, m.frame());
        return undefined;
      }
      case FrontendCode.Close: {
        if (this.discarding) return undefined;
        const c = parseClose(buf, start, length);
        if (c.target === 'S') this.statements.delete(c.name);
        else this.portals.delete(c.name);
        this.forward(m.frame());
        this.queue.push({ t: 'close' });
        return undefined;
      }
      case FrontendCode.Sync:
        this.discarding = false;
        this.forward(m.frame());
        this.queue.push({ t: 'sync' });
        return undefined;
      case FrontendCode.Flush:
        this.forward(m.frame());
        return undefined;
      case FrontendCode.CopyData:
      case FrontendCode.CopyDone:
      case FrontendCode.CopyFail:
        // COPY … FROM STDIN payload: the COPY statement itself was decided.
        this.forward(m.frame());
        return undefined;
      case FrontendCode.Terminate:
        this.shutdown('client terminated');
        return undefined;
      case FrontendCode.FunctionCall:
        // The fast-path function call interface bypasses SQL analysis: refuse it.
        this.refuse('blocked: the function-call protocol is not allowed through Warden', true);
        return undefined;
      default:
        // Fail closed on anything we do not understand in a guarded session.
        this.terminateWith(SQLSTATE_PROTOCOL, `unknown message type 0x${m.code.toString(16)} from client`);
        return undefined;
    }
  }

  // Each handler decides synchronously when it can (pipelined read-only statements) and returns
  // a promise only when the decision must be waited for.

  private onQuery(text: string, frame: Buffer): Promise<void> | undefined {
    const v = this.decide(text);
    if (v instanceof Promise) return v.then((verdict) => this.queryDecided(verdict, frame));
    this.queryDecided(v, frame);
    return undefined;
  }

  private queryDecided(verdict: Verdict | null, frame: Buffer): void {
    if (!verdict || this.closed) return;
    if (verdict.refusal) {
      this.refuseVerdict(verdict, true);
      return;
    }
    this.forward(frame);
    this.queue.push({ t: 'simple', ctx: this.newContext(verdict), gate: gateOf(verdict) });
  }

  private onParse(name: string, text: string, frame: Buffer): Promise<void> | undefined {
    const v = this.decide(text);
    if (v instanceof Promise) return v.then((verdict) => this.parseDecided(verdict, name, text, frame));
    this.parseDecided(v, name, text, frame);
    return undefined;
  }

  private parseDecided(verdict: Verdict | null, name: string, text: string, frame: Buffer): void {
    if (!verdict || this.closed) return;
    if (verdict.refusal) {
      this.refuseVerdict(verdict, false);
      this.discarding = true;
      return;
    }
    this.statements.set(name, { name, text, verdict, fresh: true, fields: null });
    this.forward(frame);
    this.queue.push({ t: 'parse', gate: gateOf(verdict) });
  }

  private onBind(b: ReturnType<typeof parseBind>, frame: Buffer): Promise<void> | undefined {
    const stmt = this.statements.get(b.statement);
    if (stmt?.fresh) {
      stmt.fresh = false;
      this.bindDecided(stmt.verdict, stmt, b, frame);
      return undefined;
    }
    // A statement executed again (or prepared with SQL PREPARE): every execution is decided.
    const v = this.decide(stmt ? stmt.text : `EXECUTE ${quoteIdent(b.statement)}`);
    if (v instanceof Promise) {
      return v.then((verdict) => {
        if (verdict && !this.closed && stmt) stmt.verdict = verdict;
        this.bindDecided(verdict, stmt, b, frame);
      });
    }
    if (v && stmt) stmt.verdict = v;
    this.bindDecided(v, stmt, b, frame);
    return undefined;
  }

  private bindDecided(
    verdict: Verdict | null,
    stmt: Statement | undefined,
    b: ReturnType<typeof parseBind>,
    frame: Buffer,
  ): void {
    if (!verdict || this.closed) return;
    if (verdict.refusal) {
      this.refuseVerdict(verdict, false);
      this.discarding = true;
      return;
    }
    if (!stmt) {
      stmt = { name: b.statement, text: `EXECUTE ${b.statement}`, verdict, fresh: false, fields: null };
    }
    this.portals.set(b.portal, {
      name: b.portal,
      statement: stmt,
      verdict,
      resultFormats: b.resultFormats,
      fields: null,
    });
    this.forward(frame);
    this.queue.push({ t: 'bind', gate: gateOf(verdict) });
  }

  private onExecute(portalName: string, frame: Buffer): void {
    const portal = this.portals.get(portalName);
    if (!portal) {
      // Not bound through the gateway (e.g. a SQL cursor): refuse rather than run unmasked.
      this.refuse(`blocked: portal "${portalName}" was not bound through Warden; use FETCH`, false);
      this.discarding = true;
      return;
    }
    const ctx = this.newContext(portal.verdict);
    if (ctx.masker && !portal.fields && !portal.statement.fields) {
      // Masking needs the row shape; ask for it ourselves and swallow the answer.
      this.forward(writeDescribe(this.w, 'P', portal.name).flush());
      this.queue.push({ t: 'describe', stmt: null, portal, internal: true });
    }
    this.forward(frame);
    this.queue.push({ t: 'execute', ctx, portal, gate: gateOf(portal.verdict) });
  }

  /**
   * The core's verdict: at once for a pipelined read-only statement (its response is then held
   * by the pending entry's gate until the audit entry is committed), else a promise. null when
   * the session ended.
   */
  private decide(text: string): Verdict | null | Promise<Verdict | null> {
    this.holdAbort ??= new AbortController();
    const v = this.session.decideOrWait({ kind: 'sql', text }, { signal: this.holdAbort.signal, pipelineAudit: true });
    if (!(v instanceof Promise)) return this.decided(v);
    this.deciding++;
    return v.then(
      (verdict) => {
        this.deciding--;
        return this.decided(verdict);
      },
      (err: unknown) => {
        this.deciding--;
        throw err;
      },
    );
  }

  private decided(verdict: Verdict): Verdict | null {
    if (verdict.terminate) {
      this.terminateWith(SQLSTATE_AUTH, verdict.refusal?.message ?? 'session ended');
      return null;
    }
    return verdict;
  }

  private abortHold(): void {
    const c = this.holdAbort;
    this.holdAbort = null;
    c?.abort();
  }

  private newContext(verdict: Verdict): ResultContext {
    return new ResultContext(this.session, verdict.op.id, verdict.masker, this.keepRows);
  }

  private refuseVerdict(verdict: Verdict, readyForQuery: boolean): void {
    const r = verdict.refusal!;
    this.refuse(r.message, readyForQuery, r.reviewId);
  }

  /** Queue an ErrorResponse (and ReadyForQuery for the simple protocol) in stream order. */
  private refuse(message: string, readyForQuery: boolean, reviewId?: string): void {
    const frame = writeErrorResponse(this.w, {
      severity: 'ERROR',
      code: SQLSTATE_REFUSED,
      message,
      ...(reviewId
        ? { hint: `an approver runs: warden reviews approve ${reviewId}`, extra: { W: `warden review ${reviewId}` } }
        : {}),
    }).flush();
    if (this.queue.size === 0) {
      this.toClient.push(frame);
      if (readyForQuery) this.toClient.push(writeReadyForQuery(this.w, this.txStatus).flush());
    } else {
      this.queue.push({ t: 'synthetic', frames: [frame], readyForQuery });
    }
  }

  private forward(frame: Buffer): void {
    this.toServer.push(frame);
  }

  private flushToServer(): void {
    if (this.toServer.empty || this.closed) return;
    if (!writeAll(this.upstream.socket, this.toServer.take())) this.clientFlow.pause(PAUSE_BACKPRESSURE);
  }

  // ───────────────────────────── server → client ─────────────────────────────

  private async pumpServer(): Promise<void> {
    if (this.serverBusy || this.closed) return;
    this.serverBusy = true;
    try {
      const reader = this.upstream.reader;
      while (!this.closed) {
        if (!reader.next()) break;
        const head = this.queue.peek();
        const gate = head?.gate;
        if (gate !== undefined) {
          // A pipelined read: nothing of its answer goes out before its audit entry is committed.
          if (gate.state === undefined) {
            this.flushToClient();
            await gate.settled;
            if (this.closed) break;
          }
          if (gate.state === false) {
            this.terminateWith(SQLSTATE_SYSTEM, 'the audit record could not be written; the session is ended');
            break;
          }
          head!.gate = undefined;
        }
        const wait = this.onServerMessage(reader);
        if (wait) {
          this.flushToClient();
          this.serverFlow.pause(PAUSE_DECIDING);
          await wait;
          this.serverFlow.resume(PAUSE_DECIDING);
        }
      }
      this.flushToClient();
    } catch (err) {
      this.shutdown(`target protocol error: ${(err as Error).message}`, true);
    } finally {
      this.serverBusy = false;
      this.serverFlow.resume(PAUSE_READ_AHEAD);
    }
  }

  private onServerMessage(m: MessageReader): Promise<void> | undefined {
    const { buffer: buf, start, length } = m;
    const head = this.queue.peek();
    switch (m.code) {
      case BackendCode.DataRow: {
        const ctx = contextOf(head);
        if (!ctx) {
          this.toClient.push(m.frame());
          return undefined;
        }
        if (!ctx.planned && head?.t === 'execute') {
          const wait = this.planExecute(ctx, head.portal, m);
          if (wait) return wait;
        }
        ctx.dataRow(this.toClient, m.frame(), buf, start, length);
        return undefined;
      }
      case BackendCode.RowDescription:
        return this.onRowDescription(head, this.rowDescription(buf, start, length), m.frame());
      case BackendCode.NoData:
        if (head?.t === 'describe') {
          this.shift();
          if (head.internal) return undefined;
        }
        this.toClient.push(m.frame());
        return undefined;
      case BackendCode.ParseComplete:
      case BackendCode.BindComplete:
      case BackendCode.CloseComplete:
        this.toClient.push(m.frame());
        if (head && (head.t === 'parse' || head.t === 'bind' || head.t === 'close')) this.shift();
        return undefined;
      case BackendCode.CommandComplete: {
        const ctx = contextOf(head);
        ctx?.complete(parseCommandComplete(buf, start, length));
        this.toClient.push(m.frame());
        if (head?.t === 'execute') this.shift();
        else if (ctx) ctx.setFields(null, null);
        return undefined;
      }
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended:
        if (head?.t === 'execute') {
          if (m.code === BackendCode.PortalSuspended) head.ctx.complete('SUSPENDED');
          this.shift();
        }
        this.toClient.push(m.frame());
        return undefined;
      case BackendCode.ErrorResponse:
        return this.onError(head, m);
      case BackendCode.NoticeResponse:
        this.toClient.push(this.maskErrorFields(contextOf(head)?.masker ?? this.session.currentMasker, m));
        return undefined;
      case BackendCode.ReadyForQuery:
        this.txStatus = parseReadyForQuery(buf, start, length);
        this.toClient.push(m.frame());
        if (head && (head.t === 'simple' || head.t === 'sync')) this.shift();
        return undefined;
      case BackendCode.CopyData: {
        const ctx = contextOf(head);
        this.toClient.push(ctx ? ctx.copyData(m.frame(), buf, start, length) : m.frame());
        return undefined;
      }
      case BackendCode.NotificationResponse:
      case BackendCode.ParameterStatus:
        // Values a statement can set from data (`pg_notify('c', email)`, `set_config(…, email, …)`).
        this.toClient.push(this.ownPid(this.maskSideChannel(contextOf(head)?.masker ?? this.session.currentMasker, m)));
        return undefined;
      default:
        // ParameterStatus, ParameterDescription, NotificationResponse, Copy*Response, CopyDone…
        this.toClient.push(m.frame());
        return undefined;
    }
  }

  /**
   * The first row of an Execute: its shape comes from an earlier Describe (portal, or statement
   * with the Bind's result formats). Column sources are usually cached by then; if not, this row
   * waits for the catalog lookup.
   */
  private planExecute(ctx: ResultContext, portal: Portal, m: MessageReader): Promise<void> | undefined {
    const stmtFields = portal.statement.fields;
    const fields = portal.fields ?? (stmtFields ? withResultFormats(stmtFields, portal.resultFormats) : null);
    const masker = ctx.masker;
    if (!fields || !masker) {
      ctx.setFields(fields, null);
      return undefined;
    }
    const plan = this.cachedPlan(fields, masker);
    if (plan) {
      ctx.setFields(fields, plan);
      return undefined;
    }
    const frame = m.frame();
    const { buffer: buf, start, length } = m;
    return this.sources.resolve(fields).then((src) => {
      ctx.setFields(fields, buildColumnPlan(fields, masker, src));
      ctx.dataRow(this.toClient, frame, buf, start, length);
    });
  }

  /**
   * RowDescription, parsed once per distinct message: a session sends the same few shapes again
   * and again, and the parsed fields are shared read-only (their column plans are cached on them).
   */
  private rowDescription(buf: Buffer, start: number, length: number): FieldDescription[] {
    if (length > ROW_DESCRIPTION_CACHE_BYTES) return parseRowDescription(buf, start, length);
    const key = buf.toString('latin1', start, start + length);
    let fields = this.shapes.get(key);
    if (fields === undefined) {
      fields = parseRowDescription(buf, start, length);
      if (this.shapes.size >= ROW_DESCRIPTION_CACHE_SIZE) this.shapes.delete(this.shapes.keys().next().value!);
      this.shapes.set(key, fields);
    }
    return fields;
  }

  /** The column plan for a shape and masker once its sources are known (null until then). */
  private cachedPlan(fields: FieldDescription[], masker: Masker): ColumnPlan | null {
    let byMasker = this.plans.get(fields);
    const hit = byMasker?.get(masker);
    if (hit) return hit;
    const src = this.sources.cached(fields);
    if (!src) return null;
    const plan = buildColumnPlan(fields, masker, src);
    if (!byMasker) {
      byMasker = new Map();
      this.plans.set(fields, byMasker);
    }
    byMasker.set(masker, plan);
    return plan;
  }

  private onRowDescription(
    head: Pending | undefined,
    fields: FieldDescription[],
    frame: Buffer,
  ): Promise<void> | undefined {
    let masker: Masker | null = null;
    if (head?.t === 'describe') {
      this.shift();
      if (head.stmt) head.stmt.fields = fields;
      if (head.portal) head.portal.fields = fields;
      masker = head.portal?.verdict.masker ?? head.stmt?.verdict.masker ?? null;
      if (!head.internal) this.toClient.push(frame);
    } else {
      this.toClient.push(frame);
      const ctx = contextOf(head);
      if (!ctx) return undefined;
      masker = ctx.masker;
      if (!masker) {
        ctx.setFields(fields, null);
        return undefined;
      }
      const plan = this.cachedPlan(fields, masker);
      if (plan) {
        ctx.setFields(fields, plan);
        return undefined;
      }
      return this.sources.resolve(fields).then((src) => ctx.setFields(fields, buildColumnPlan(fields, masker!, src)));
    }
    // A describe: warm the source cache now so the Execute's rows are planned without waiting.
    if (masker && !this.sources.cached(fields)) return this.sources.resolve(fields).then(() => undefined);
    return undefined;
  }

  private onError(head: Pending | undefined, m: MessageReader): undefined {
    const ctx = contextOf(head);
    const masker = ctx?.masker ?? this.session.currentMasker;
    const frame = this.maskErrorFields(masker, m);
    if (ctx) {
      const e = parseErrorResponse(frame, 5, frame.length - 5);
      ctx.error(`${e.code ?? ''} ${e.message ?? ''}`.trim());
    }
    this.toClient.push(frame);
    if (head && head.t !== 'simple') {
      // Extended protocol: the server now skips to Sync, so do we (dropping queued refusals).
      while (this.queue.size > 0 && this.queue.peek()!.t !== 'sync') this.queue.shift();
    }
    return undefined;
  }

  private maskErrorFields(masker: Masker | null, m: MessageReader): Buffer {
    if (!masker) return m.frame();
    return rewriteErrorFields(m.buffer, m.start, m.length, (code, value) => {
      if (code !== 'M' && code !== 'D' && code !== 'H' && code !== 'W') return undefined;
      const masked = masker.maskText(value);
      return masked === value ? undefined : masked;
    });
  }

  /**
   * A notification sent by this session's own backend names the client's pid, not the real
   * one: clients compare it with BackendKeyData to spot their own notifications, and the real
   * pid never leaves the gateway.
   */
  private ownPid(frame: Buffer): Buffer {
    if (frame[0] !== BackendCode.NotificationResponse || frame.readInt32BE(5) !== this.upstream.realPid) return frame;
    const copy = Buffer.from(frame);
    copy.writeInt32BE(this.upstream.clientPid, 5);
    return copy;
  }

  private maskSideChannel(masker: Masker | null, m: MessageReader): Buffer {
    if (!masker?.maskTextMaybe(m.buffer, m.start, m.start + m.length)) return m.frame();
    if (m.code === BackendCode.ParameterStatus) {
      const p = parseParameterStatus(m.buffer, m.start, m.length);
      return writeParameterStatus(this.w, p.name, masker.maskText(p.value)).flush();
    }
    const n = parseNotificationResponse(m.buffer, m.start, m.length);
    return this.w
      .begin(BackendCode.NotificationResponse)
      .int32(n.pid)
      .cstring(masker.maskText(n.channel))
      .cstring(masker.maskText(n.payload))
      .end()
      .flush();
  }

  /** Pop the head and emit any gateway refusals that are now next in line. */
  private shift(): void {
    this.queue.shift();
    let next = this.queue.peek();
    while (next?.t === 'synthetic') {
      this.queue.shift();
      for (const f of next.frames) this.toClient.push(f);
      if (next.readyForQuery) this.toClient.push(writeReadyForQuery(this.w, this.txStatus).flush());
      next = this.queue.peek();
    }
  }

  private flushToClient(): void {
    if (this.toClient.empty || this.closed) return;
    if (!writeAll(this.client, this.toClient.take())) this.serverFlow.pause(PAUSE_BACKPRESSURE);
  }

  // ───────────────────────────── ending ─────────────────────────────

  private protocolViolation(err: unknown): void {
    this.terminateWith(SQLSTATE_PROTOCOL, `invalid message from client: ${(err as Error).message ?? String(err)}`);
  }

  /** Send a FATAL error to the client and end the session. */
  private terminateWith(sqlstate: string, message: string): void {
    if (this.closed) return;
    this.flushToClient();
    this.client.write(writeErrorResponse(this.w, { severity: 'FATAL', code: sqlstate, message }).flush());
    this.shutdown(message);
  }

  shutdown(reason: string, targetGone = false): void {
    if (this.closed) return;
    this.closed = true;
    this.abortHold();
    if (targetGone) {
      this.client.end(
        writeErrorResponse(this.w, {
          severity: 'FATAL',
          code: '08006',
          message: `connection to the target was lost: ${reason}`,
        }).flush(),
      );
    } else {
      this.client.end();
    }
    const up = this.upstream.socket;
    if (!up.destroyed) {
      // A statement still running (the client vanished mid-result): cancel it, or the backend
      // keeps working, or stays blocked writing to a socket nobody reads.
      if (!targetGone && this.queue.size > 0) void this.upstream.cancel().catch(() => {});
      // Terminate, then close for real: unread result bytes make the close a reset, which ends
      // a backend blocked in send.
      up.end(writeTerminate(this.w).flush());
      up.destroySoon();
      setTimeout(() => up.destroy(), 2000).unref();
    }
    this.client.destroySoon?.();
    this.queue.clear();
    this.statements.clear();
    this.portals.clear();
    this.onClose(this);
    void this.session.close(reason);
  }
}

/** Write frames in order; false when the socket asks to wait for 'drain'. */
function writeAll(socket: Socket, frames: Buffer[]): boolean {
  if (frames.length === 1) return socket.write(frames[0]!);
  socket.cork();
  let ok = true;
  for (const b of frames) ok = socket.write(b);
  socket.uncork();
  return ok;
}

/** The pending audit a response must wait for, when it is not committed yet. */
function gateOf(verdict: Verdict): PendingAudit | undefined {
  const a = verdict.audit;
  return a !== null && a.state !== true ? a : undefined;
}

function contextOf(head: Pending | undefined): ResultContext | null {
  if (!head) return null;
  if (head.t === 'simple') return head.ctx;
  if (head.t === 'execute') return head.ctx;
  return null;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export { withResultFormats };
