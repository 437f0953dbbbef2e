// One client connection after the handshake: relays the v3 protocol between the client and the
// target, asks the core about every statement (simple Query and extended Parse/Bind), and
// enforces the verdict in protocol: refusals as ErrorResponse in the right place of the stream,
// masked DataRow/CopyData/error texts, recorded results. No policy logic lives here.
import type { Socket } from 'node:net';
import { namespaceChanges } from '../../analysis/index.js';
import type { SqlKind } from '../../core/types.js';
import type { GatewaySession, PendingAudit, Verdict } from '../../gateway/index.js';
import type { Masker } from '../../masking/index.js';
import { Flow, OutBuffer, PAUSE_BACKPRESSURE, PAUSE_DECIDING, PAUSE_READ_AHEAD, writeAll } from '../relay/index.js';
import { withResultFormats } from './column-plan.js';
import type { ColumnSources } from './column-sources.js';
import {
  CopyOutMasker,
  copyColumnPlan,
  copyOutSpecsOf,
  copyRefusal,
  copySpecOf,
  describeSql,
  isCopyMaskError,
} from './copy/index.js';
import { type NameChanges, type Pending, PendingQueue } from './pending.js';
import { pinnedParameterProblem } from './pinned.js';
import { ResultContext } from './result.js';
import { RowShapes } from './row-shapes.js';
import { maskErrorFields, maskSideChannel, withClientPid } from './side-channels.js';
import { type Portal, SessionNames, type Statement } from './statements.js';
import {
  BackendCode,
  type FieldDescription,
  FrontendCode,
  type MessageReader,
  MessageWriter,
  parseBind,
  parseClose,
  parseCommandComplete,
  parseCopyResponse,
  parseDescribe,
  parseErrorResponse,
  parseExecute,
  parseParameterStatus,
  parseParse,
  parseQuery,
  parseReadyForQuery,
  type TransactionStatus,
  writeDescribe,
  writeErrorResponse,
  writeFlush,
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
const SQLSTATE_NO_STATEMENT = '26000'; // invalid_sql_statement_name
const SQLSTATE_NO_PORTAL = '34000'; // invalid_cursor_name
const SQLSTATE_PINNED = '0A000'; // feature_not_supported: a pinned setting changed anyway
const SQLSTATE_COPY = '0A000';
/** DataRows between identity re-checks of a streaming result (expiry or revocation cuts it). */
const IDENTITY_CHECK_ROWS = 256;
// Statements that can change the session's named statements or cursors (DISCARD is 'other').
const NAME_KINDS: ReadonlySet<SqlKind> = new Set<SqlKind>([
  'prepare',
  'deallocate',
  'declare',
  'close',
  'other',
  'unparsed',
]);
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

export class PgProxy {
  private readonly w = new MessageWriter();
  private readonly queue = new PendingQueue();
  /** Named statements and portals as the server has them (see statements.ts). */
  private readonly names = new SessionNames();
  /** Client-side waits for the server to confirm pending name changes. */
  private settleWaiters: (() => void)[] = [];
  private rowsSinceIdentityCheck = 0;
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
  private readonly shapes: RowShapes;

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
    this.shapes = new RowShapes(sources);
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
        // Only a portal's description is used (for masking), and only when it names this very
        // portal; a statement's shape can be redefined behind our back (SQL DEALLOCATE/PREPARE).
        const found = d.target === 'P' ? this.names.portal(d.name) : undefined;
        this.forward(m.frame());
        this.queue.push({ t: 'describe', portal: typeof found === 'object' ? found : null, internal: false });
        return undefined;
      }
      case FrontendCode.Execute: {
        if (this.discarding) return undefined;
        return this.onExecute(parseExecute(buf, start, length).portal, m.frame());
      }
      case FrontendCode.Close: {
        if (this.discarding) return undefined;
        const c = parseClose(buf, start, length);
        this.forward(m.frame());
        this.queue.push({ t: 'close', target: c.target === 'S' ? 'S' : 'P', name: c.name });
        return undefined;
      }
      case FrontendCode.Sync:
        this.discarding = false;
        this.forward(m.frame());
        this.queue.push({ t: 'sync' });
        this.names.synced();
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
    if (v instanceof Promise) return v.then((verdict) => this.queryDecided(verdict, text, frame));
    this.queryDecided(v, text, frame);
    return undefined;
  }

  private queryDecided(verdict: Verdict | null, text: string, frame: Buffer): Promise<void> | undefined {
    if (!verdict || this.closed) return undefined;
    if (verdict.refusal) {
      this.refuseVerdict(verdict, true);
      return undefined;
    }
    const ctx = this.newContext(verdict, text);
    if (ctx.masker && isCopy(verdict)) {
      return this.planCopies(ctx, copyOutSpecsOf(text)).then((refusal) => {
        if (this.closed) return;
        if (refusal) return this.refuse(refusal, true, undefined, SQLSTATE_COPY);
        this.forwardQuery(verdict, text, frame, ctx);
      });
    }
    this.forwardQuery(verdict, text, frame, ctx);
    return undefined;
  }

  private forwardQuery(verdict: Verdict, text: string, frame: Buffer, ctx: ResultContext): void {
    this.forward(frame);
    this.names.simpleQuerySent();
    const names = this.nameChanges(verdict, text);
    this.queue.push({ t: 'simple', ctx, gate: gateOf(verdict), names });
  }

  /**
   * COPY … TO STDOUT in a masked session: each COPY's columns are described (on the side
   * connection) before it runs, so its output is masked by column whatever its format. Returns
   * why it must not run, or null.
   */
  private async planCopies(ctx: ResultContext, specs: ReturnType<typeof copyOutSpecsOf>): Promise<string | null> {
    const masker = ctx.masker!;
    for (const spec of specs) {
      const refusal = copyRefusal(spec, masker);
      if (refusal) return `blocked: ${refusal}`;
    }
    ctx.copies = await Promise.all(
      specs.map(async (spec) => {
        const fields = await this.sources.describe(describeSql(spec));
        if (!fields) return { spec, plan: null };
        const src = await this.sources.resolve(fields);
        return { spec, plan: copyColumnPlan(spec, fields, src, masker) };
      }),
    );
    return null;
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
    // Recorded as the server's only once it answers ParseComplete (a Parse it rejects, e.g. a
    // name in use, changes nothing).
    const stmt: Statement = { name, text, verdict, fresh: true };
    this.names.parseSent(stmt);
    this.forward(frame);
    this.queue.push({ t: 'parse', stmt, gate: gateOf(verdict) });
  }

  private onBind(b: ReturnType<typeof parseBind>, frame: Buffer): Promise<void> | undefined {
    const found = this.names.statement(b.statement);
    if (found === 'unsettled') return this.settle().then(() => this.onBind(b, frame));
    if (found === undefined) {
      this.refuse(`prepared statement "${b.statement}" does not exist`, false, undefined, SQLSTATE_NO_STATEMENT);
      this.discarding = true;
      return undefined;
    }
    const stmt = found;
    if (stmt.fresh && stmt.verdict) {
      // The decision made at Parse covers its first execution; the identity is re-checked.
      stmt.fresh = false;
      if (this.session.identityProblem()) return this.refuseLapsed(stmt.text);
      this.bindDecided(stmt.verdict, stmt, b, frame);
      return undefined;
    }
    // Every later execution (and every execution of a statement prepared in SQL) is decided.
    stmt.fresh = false;
    const v = this.decide(stmt.text);
    if (v instanceof Promise) return v.then((verdict) => this.bindDecided(verdict, stmt, b, frame));
    this.bindDecided(v, stmt, b, frame);
    return undefined;
  }

  private bindDecided(verdict: Verdict | null, stmt: Statement, b: ReturnType<typeof parseBind>, frame: Buffer): void {
    if (!verdict || this.closed) return;
    if (verdict.refusal) {
      this.refuseVerdict(verdict, false);
      this.discarding = true;
      return;
    }
    const portal: Portal = { name: b.portal, statement: stmt, verdict, resultFormats: b.resultFormats, fields: null };
    this.names.bindSent(portal);
    this.forward(frame);
    this.queue.push({ t: 'bind', portal, gate: gateOf(verdict) });
  }

  private onExecute(portalName: string, frame: Buffer): Promise<void> | undefined {
    const found = this.names.portal(portalName);
    if (found === 'unsettled') return this.settle().then(() => this.onExecute(portalName, frame));
    if (found === undefined) {
      // Not bound through the gateway (e.g. a SQL cursor): refuse rather than run unmasked.
      this.refuse(
        `blocked: portal "${portalName}" was not bound through Warden; use FETCH`,
        false,
        undefined,
        SQLSTATE_NO_PORTAL,
      );
      this.discarding = true;
      return undefined;
    }
    const portal = found;
    if (this.session.identityProblem()) return this.refuseLapsed(portal.statement.text);
    const ctx = this.newContext(portal.verdict, portal.statement.text);
    if (ctx.masker && isCopy(portal.verdict) && ctx.copies.length === 0) {
      const spec = copySpecOf(portal.statement.text);
      return this.planCopies(ctx, spec ? [spec] : []).then((refusal) => {
        if (this.closed) return;
        if (refusal) {
          this.refuse(refusal, false, undefined, SQLSTATE_COPY);
          this.discarding = true;
          return;
        }
        this.forwardExecute(portal, ctx, frame);
      });
    }
    this.forwardExecute(portal, ctx, frame);
    return undefined;
  }

  private forwardExecute(portal: Portal, ctx: ResultContext, frame: Buffer): void {
    if (ctx.masker && !portal.fields) {
      // Masking needs the shape of the rows this Execute sends: ask the server now, in stream
      // order, and swallow its answer.
      this.forward(writeDescribe(this.w, 'P', portal.name).flush());
      this.queue.push({ t: 'describe', portal, internal: true });
    }
    this.forward(frame);
    const names = this.nameChanges(portal.verdict, portal.statement.text);
    this.queue.push({ t: 'execute', ctx, portal, gate: gateOf(portal.verdict), names });
  }

  /** Name changes a statement about to be forwarded may make (rare: computed only then). */
  private nameChanges(verdict: Verdict, text: string): NameChanges | undefined {
    const op = verdict.op;
    if (op.kind !== 'sql' || !op.sql.kinds.some((k) => NAME_KINDS.has(k))) return undefined;
    this.names.sqlSent();
    return { changes: op.sql.parsed ? namespaceChanges(text) : null, next: 0 };
  }

  /** Wait until the server has confirmed every pending change of names. */
  private settle(): Promise<void> {
    if (this.names.settled) return Promise.resolve();
    // Responses to extended-protocol messages are buffered by the server until Sync or Flush.
    this.forward(writeFlush(this.w).flush());
    this.flushToServer();
    this.flushToClient();
    return new Promise((resolve) => this.settleWaiters.push(resolve));
  }

  private wakeSettled(): void {
    if (this.settleWaiters.length === 0 || (!this.names.settled && !this.closed)) return;
    const waiters = this.settleWaiters;
    this.settleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * An execution whose identity lapsed since its statement was decided: decided again, so the
   * refusal is an audited operation like any other, and the session ends.
   */
  private refuseLapsed(text: string): Promise<void> | undefined {
    const v = this.decide(text);
    return v instanceof Promise ? v.then(() => undefined) : undefined;
  }

  /** Expired or revoked since the last decision (mid-stream): refuse and end the session. */
  private identityLapsed(): boolean {
    const problem = this.session.identityProblem();
    if (!problem) return false;
    this.terminateWith(SQLSTATE_AUTH, `session ended: ${problem.message}`);
    return true;
  }

  /**
   * The core's verdict: at once for a pipelined read-only statement (its response is then held
   * by the pending entry's gate until the audit entry is committed), else a promise. null when
   * the session ended. An EXECUTE is decided with what the server's named statements are, so
   * it waits until pending changes of names are confirmed.
   */
  private decide(text: string): Verdict | null | Promise<Verdict | null> {
    const executes = mayExecute(text);
    if (executes && !this.names.settled) return this.settle().then(() => this.decide(text));
    this.holdAbort ??= new AbortController();
    const input = executes
      ? { kind: 'sql' as const, text, prepared: this.names.preparedTexts() }
      : { kind: 'sql' as const, text };
    const v = this.session.decideOrWait(input, { signal: this.holdAbort.signal, pipelineAudit: true });
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

  private newContext(verdict: Verdict, text: string): ResultContext {
    return new ResultContext(this.session, verdict.op.id, verdict.masker, this.keepRows, text);
  }

  private refuseVerdict(verdict: Verdict, readyForQuery: boolean): void {
    const r = verdict.refusal!;
    this.refuse(r.message, readyForQuery, r.reviewId);
  }

  /** Queue an ErrorResponse (and ReadyForQuery for the simple protocol) in stream order. */
  private refuse(message: string, readyForQuery: boolean, reviewId?: string, sqlstate = SQLSTATE_REFUSED): void {
    const frame = writeErrorResponse(this.w, {
      severity: 'ERROR',
      code: sqlstate,
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
        if (this.settleWaiters.length > 0) this.wakeSettled();
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
        // A long result is cut when its identity lapses (expiry or revocation) mid-stream.
        if (++this.rowsSinceIdentityCheck >= IDENTITY_CHECK_ROWS) {
          this.rowsSinceIdentityCheck = 0;
          if (this.identityLapsed()) return undefined;
        }
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
        return this.onRowDescription(head, this.shapes.fields(buf, start, length), m.frame());
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
        if (head && (head.t === 'parse' || head.t === 'bind' || head.t === 'close')) {
          this.names.confirm(head);
          this.shift();
        }
        return undefined;
      case BackendCode.CommandComplete: {
        const ctx = contextOf(head);
        const tag = parseCommandComplete(buf, start, length);
        ctx?.complete(tag);
        if (head?.t === 'simple' || head?.t === 'execute') this.names.commandComplete(head.names, tag);
        this.toClient.push(m.frame());
        if (head?.t === 'execute') {
          this.names.finished(head);
          this.shift();
        } else if (ctx) ctx.setFields(null, null);
        return undefined;
      }
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended:
        if (head?.t === 'execute') {
          if (m.code === BackendCode.PortalSuspended) head.ctx.complete('SUSPENDED');
          this.names.finished(head);
          this.shift();
        }
        this.toClient.push(m.frame());
        return undefined;
      case BackendCode.ErrorResponse:
        return this.onError(head, m);
      case BackendCode.NoticeResponse:
        this.toClient.push(
          maskErrorFields(contextOf(head)?.masker ?? this.session.currentMasker, m, contextOf(head)?.text ?? null),
        );
        return undefined;
      case BackendCode.ReadyForQuery:
        this.txStatus = parseReadyForQuery(buf, start, length);
        if (this.txStatus === 'I') this.names.transactionEnded();
        this.toClient.push(m.frame());
        if (head && (head.t === 'simple' || head.t === 'sync')) {
          if (head.t === 'simple') this.names.finished(head);
          this.shift();
        }
        return undefined;
      case BackendCode.CopyOutResponse: {
        const ctx = contextOf(head);
        if (ctx?.masker) {
          const copy = ctx.copies.shift();
          try {
            if (!copy) throw new Error('a COPY the gateway did not plan');
            ctx.copier = new CopyOutMasker({
              spec: copy.spec,
              response: parseCopyResponse(buf, start, length),
              plan: copy.plan,
              masker: ctx.masker,
              keepRows: this.keepRows,
            });
          } catch (err) {
            return this.copyFailed(err);
          }
        }
        this.toClient.push(m.frame());
        return undefined;
      }
      case BackendCode.CopyData: {
        const ctx = contextOf(head);
        const copier = ctx?.copier;
        if (copier) {
          try {
            const out = copier.data(m.frame(), buf, start, length);
            if (out) this.toClient.push(out);
          } catch (err) {
            return this.copyFailed(err);
          }
          return undefined;
        }
        this.toClient.push(ctx ? ctx.copyData(m.frame(), buf, start, length) : m.frame());
        return undefined;
      }
      case BackendCode.CopyDone: {
        const ctx = contextOf(head);
        const copier = ctx?.copier;
        if (ctx && copier) {
          try {
            const out = copier.end();
            if (out) this.toClient.push(out);
          } catch (err) {
            return this.copyFailed(err);
          }
          ctx.copyDone(copier);
        }
        this.toClient.push(m.frame());
        return undefined;
      }
      case BackendCode.ParameterStatus: {
        // The server's word on its settings: one the analysis depends on may not change.
        const p = parseParameterStatus(buf, start, length);
        const problem = pinnedParameterProblem(p.name, p.value);
        if (problem) {
          this.terminateWith(SQLSTATE_PINNED, `session ended: ${problem}`);
          return undefined;
        }
        this.toClient.push(maskSideChannel(this.w, contextOf(head)?.masker ?? this.session.currentMasker, m));
        return undefined;
      }
      case BackendCode.NotificationResponse:
        // Values a statement can set from data (`pg_notify('c', email)`, `set_config(…, email, …)`).
        this.toClient.push(
          withClientPid(
            maskSideChannel(this.w, contextOf(head)?.masker ?? this.session.currentMasker, m),
            this.upstream.realPid,
            this.upstream.clientPid,
          ),
        );
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
    const fields = portal.fields;
    const masker = ctx.masker;
    if (!fields || !masker) {
      ctx.setFields(fields, null);
      return undefined;
    }
    const plan = this.shapes.cachedPlan(fields, masker);
    if (plan) {
      ctx.setFields(fields, plan);
      return undefined;
    }
    const frame = m.frame();
    const { buffer: buf, start, length } = m;
    return this.shapes.plan(fields, masker).then((p) => {
      ctx.setFields(fields, p);
      ctx.dataRow(this.toClient, frame, buf, start, length);
    });
  }

  private onRowDescription(
    head: Pending | undefined,
    fields: FieldDescription[],
    frame: Buffer,
  ): Promise<void> | undefined {
    let masker: Masker | null = null;
    if (head?.t === 'describe') {
      this.shift();
      if (head.portal) head.portal.fields = fields;
      masker = head.portal?.verdict.masker ?? null;
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
      const plan = this.shapes.cachedPlan(fields, masker);
      if (plan) {
        ctx.setFields(fields, plan);
        return undefined;
      }
      return this.shapes.plan(fields, masker).then((p) => ctx.setFields(fields, p));
    }
    // A describe: warm the source cache now so the Execute's rows are planned without waiting.
    if (masker && !this.sources.cached(fields)) return this.sources.resolve(fields).then(() => undefined);
    return undefined;
  }

  private onError(head: Pending | undefined, m: MessageReader): undefined {
    const ctx = contextOf(head);
    const masker = ctx?.masker ?? this.session.currentMasker;
    const frame = maskErrorFields(masker, m, ctx?.text ?? this.lastSent(head));
    if (ctx) {
      const e = parseErrorResponse(frame, 5, frame.length - 5);
      ctx.error(`${e.code ?? ''} ${e.message ?? ''}`.trim());
    }
    this.toClient.push(frame);
    if (head && head.t !== 'simple') {
      // Extended protocol: the server now skips to Sync, so do we (dropping queued refusals);
      // what those messages would have created never came to be.
      while (this.queue.size > 0 && this.queue.peek()!.t !== 'sync') this.names.finished(this.queue.shift()!, false);
    }
    return undefined;
  }

  /** COPY output that cannot be masked as it must: nothing more of it goes out (fail closed). */
  private copyFailed(err: unknown): undefined {
    const why = isCopyMaskError(err) ? err.message : (err as Error).message;
    this.terminateWith(SQLSTATE_COPY, `COPY output could not be masked (${why}); the session is ended`);
    return undefined;
  }

  /** The text of the statement a Parse or Bind error answers (its quoted values are from it). */
  private lastSent(head: Pending | undefined): string | null {
    if (head?.t === 'parse') return head.stmt.text;
    if (head?.t === 'bind') return head.portal.statement.text;
    return null;
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
    this.names.clear();
    this.wakeSettled();
    this.onClose(this);
    void this.session.close(reason);
  }
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

const EXECUTE_WORD = /execute/i;

function isCopy(verdict: Verdict): boolean {
  return verdict.op.kind === 'sql' && verdict.op.sql.kinds.includes('copy');
}

/** Cheap pre-check: only a text that mentions EXECUTE can run a named statement. */
function mayExecute(text: string): boolean {
  return EXECUTE_WORD.test(text);
}

export { withResultFormats };
