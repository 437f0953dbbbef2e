// Server → client: each message of the target, matched against the answer due (reply-queue.ts).
// Rows, COPY output, error and notice texts, notifications and reported settings pass the
// masker of the statement they answer; a pipelined read's answer waits for its audit entry; a
// long result is cut when the identity lapses; name changes are confirmed as the server makes them.
import type { Masker } from '../../masking/index.js';
import { type Flow, type OutBuffer, Pump } from '../relay/index.js';
import { CopyOutRelay } from './copy-out-relay.js';
import type { Decisions } from './decisions.js';
import type { ProxyLink } from './link.js';
import type { Pending } from './pending.js';
import type { ReplyQueue } from './reply-queue.js';
import type { ResultContext } from './result.js';
import type { ResultPlanner } from './result-plans.js';
import { maskErrorFields, maskNotification, maskSideChannel, pinnedChange } from './side-channels.js';
import { SQLSTATE_AUTH, SQLSTATE_PINNED, SQLSTATE_SYSTEM } from './sqlstate.js';
import type { SessionNames } from './statements.js';
import {
  BackendCode,
  CommandTags,
  type FieldDescription,
  type MessageReader,
  parseErrorResponse,
  parseReadyForQuery,
} from './wire/index.js';

/** DataRows between identity re-checks of a streaming result (expiry or revocation cuts it). */
const IDENTITY_CHECK_ROWS = 256;
/** Target bytes read ahead while the pump waits (e.g. for an audit commit) before pausing. */
const READ_AHEAD_LIMIT = 1024 * 1024;

export class ServerPump extends Pump<MessageReader> {
  private rowsSinceIdentityCheck = 0;
  private readonly tags = new CommandTags();
  private readonly toClient: OutBuffer;
  private readonly replies: ReplyQueue;
  private readonly names: SessionNames;
  private readonly planner: ResultPlanner;
  private readonly copyOut: CopyOutRelay;
  private readonly decisions: Decisions;

  constructor(
    private readonly link: ProxyLink,
    reader: MessageReader,
    flow: Flow,
  ) {
    super(reader, flow, READ_AHEAD_LIMIT);
    this.toClient = link.toClient;
    this.replies = link.replies;
    this.names = link.names;
    this.planner = link.planner;
    this.copyOut = new CopyOutRelay(link);
    this.decisions = link.decisions;
  }

  /** A pipelined read: nothing of its answer goes out before its audit entry is committed. */
  protected override hold(): Promise<boolean> | undefined {
    const hold = this.replies.auditHold();
    if (hold === true) return undefined;
    if (hold === false) {
      this.link.terminateWith(SQLSTATE_SYSTEM, 'the audit record could not be written; the session is ended');
      return undefined;
    }
    return hold;
  }

  protected handle(m: MessageReader): Promise<void> | undefined {
    const { buffer: buf, start, length } = m;
    const replies = this.replies;
    const head = replies.head;
    switch (m.code) {
      case BackendCode.DataRow: {
        // A long result is cut when its identity lapses (expiry or revocation) mid-stream.
        if (++this.rowsSinceIdentityCheck >= IDENTITY_CHECK_ROWS) {
          this.rowsSinceIdentityCheck = 0;
          if (this.identityLapsed()) return undefined;
        }
        const ctx = contextOf(head);
        if (!ctx) {
          this.toClient.pushFrom(m.buffer, m.frameStart, m.start + m.length);
          return undefined;
        }
        if (!ctx.planned && head?.t === 'execute') {
          const wait = this.planner.execute(ctx, head.portal, m, this.toClient);
          if (wait) return wait;
        }
        ctx.dataRow(this.toClient, buf, m.frameStart, start, length);
        return undefined;
      }
      case BackendCode.RowDescription:
        return this.onRowDescription(head, this.planner.shapes.fields(buf, start, length), m.frame());
      case BackendCode.NoData:
        // The frame first: answered() releases refusals queued behind this answer (stream order).
        if (head?.t !== 'describe' || !head.internal)
          this.toClient.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        if (head?.t === 'describe') replies.answered();
        return undefined;
      case BackendCode.ParseComplete:
      case BackendCode.BindComplete:
      case BackendCode.CloseComplete:
        this.toClient.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        if (head && (head.t === 'parse' || head.t === 'bind' || head.t === 'close')) {
          this.names.confirm(head);
          replies.answered();
        }
        return undefined;
      case BackendCode.CommandComplete: {
        const ctx = contextOf(head);
        const tag = this.tags.read(buf, start, length);
        ctx?.complete(tag);
        if (head?.t === 'simple' || head?.t === 'execute') this.names.commandComplete(head.names, tag);
        this.toClient.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        if (head?.t === 'execute') {
          this.names.finished(head);
          replies.answered();
        } else if (ctx) ctx.setFields(null, null);
        return undefined;
      }
      case BackendCode.EmptyQueryResponse:
      case BackendCode.PortalSuspended:
        this.toClient.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        if (head?.t === 'execute') {
          if (m.code === BackendCode.PortalSuspended) head.ctx.complete('SUSPENDED');
          this.names.finished(head);
          replies.answered();
        }
        return undefined;
      case BackendCode.ErrorResponse:
        return this.onError(head, m);
      case BackendCode.NoticeResponse:
        this.toClient.push(maskErrorFields(this.maskerFor(head), m, contextOf(head)?.text ?? null));
        return undefined;
      case BackendCode.ReadyForQuery:
        replies.txStatus = parseReadyForQuery(buf, start, length);
        if (replies.txStatus === 'I') this.names.transactionEnded();
        this.toClient.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        if (head && (head.t === 'simple' || head.t === 'sync')) {
          if (head.t === 'simple') this.names.finished(head);
          replies.answered();
        }
        return undefined;
      case BackendCode.CopyOutResponse:
      case BackendCode.CopyData:
      case BackendCode.CopyDone:
        return this.copyOut.message(contextOf(head), m);
      case BackendCode.ParameterStatus: {
        // The server's word on its settings: one the analysis depends on may not change.
        const problem = pinnedChange(m);
        if (problem) {
          this.link.terminateWith(SQLSTATE_PINNED, `session ended: ${problem}`);
          return undefined;
        }
        this.toClient.push(maskSideChannel(this.link.w, this.maskerFor(head), m));
        return undefined;
      }
      case BackendCode.NotificationResponse: {
        // Values a statement can set from data (`pg_notify('c', email)`, `set_config(…, email, …)`).
        const up = this.link.upstream;
        this.toClient.push(maskNotification(this.link.w, this.maskerFor(head), m, up.realPid, up.clientPid));
        return undefined;
      }
      default:
        // ParameterDescription, CopyInResponse, CopyBothResponse…
        this.toClient.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        return undefined;
    }
  }

  protected override handled(): void {
    this.decisions.wakeSettled();
  }

  protected flush(): void {
    this.link.toClient.flush();
  }

  protected malformed(err: unknown): void {
    this.link.shutdown(`target protocol error: ${(err as Error).message}`);
  }

  protected failed(err: unknown): void {
    this.link.shutdown(`target protocol error: ${(err as Error).message}`, true);
  }

  private onRowDescription(
    head: Pending | undefined,
    fields: FieldDescription[],
    frame: Buffer,
  ): Promise<void> | undefined {
    if (head?.t === 'describe') {
      if (!head.internal) this.toClient.push(frame);
      this.replies.answered();
      if (head.portal) head.portal.fields = fields;
      return this.planner.warm(fields, head.portal?.verdict.masker ?? null);
    }
    this.toClient.push(frame);
    const ctx = contextOf(head);
    return ctx ? this.planner.rows(ctx, fields) : undefined;
  }

  private onError(head: Pending | undefined, m: MessageReader): undefined {
    const ctx = contextOf(head);
    const frame = maskErrorFields(this.maskerFor(head), m, ctx?.text ?? lastSent(head));
    if (ctx) {
      const e = parseErrorResponse(frame, 5, frame.length - 5);
      ctx.error(`${e.code ?? ''} ${e.message ?? ''}`.trim());
    }
    this.toClient.push(frame);
    // Extended protocol: the server now skips to Sync, so do we.
    if (head && head.t !== 'simple') this.replies.skipToSync(this.names);
    return undefined;
  }

  /** Expired or revoked since the last decision (mid-stream): refuse and end the session. */
  private identityLapsed(): boolean {
    const problem = this.link.session.identityProblem();
    if (!problem) return false;
    this.link.terminateWith(SQLSTATE_AUTH, `session ended: ${problem.message}`);
    return true;
  }

  /** The masker for what answers `head`: its statement's, else the session's current one. */
  private maskerFor(head: Pending | undefined): Masker | null {
    return contextOf(head)?.masker ?? this.link.session.currentMasker;
  }
}

function contextOf(head: Pending | undefined): ResultContext | null {
  if (!head) return null;
  if (head.t === 'simple') return head.ctx;
  if (head.t === 'execute') return head.ctx;
  return null;
}

/** The text of the statement a Parse or Bind error answers (its quoted values are from it). */
function lastSent(head: Pending | undefined): string | null {
  if (head?.t === 'parse') return head.stmt.text;
  if (head?.t === 'bind') return head.portal.statement.text;
  return null;
}
