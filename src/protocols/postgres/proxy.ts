// One client connection after the handshake: relays the v3 protocol between the client and the
// target, asks the core about every statement (simple Query and extended Parse/Bind), and
// enforces the verdict in protocol: refusals as ErrorResponse in the right place of the stream,
// masked DataRow/CopyData/error texts, recorded results. No policy logic lives here.
//
// PgProxy is the coordinator: it wires the parts and ends the session. The parts:
//   client-pump.ts   client → server messages (forwarding.ts: a statement is decided, then forwarded)
//   server-pump.ts   server → client messages (result-plans.ts, side-channels.ts, result.ts: masking)
//   decisions.ts     asking the core, review holds, waiting for the server's names to settle
//   reply-queue.ts   answers due in stream order, refusals in their place, audit-commit holds
//   ../relay/        protocol-neutral pumps, coalesced writes, backpressure
import type { Duplex } from 'node:stream';
import type { GatewaySession } from '../../gateway/index.js';
import { Flow, Outbound } from '../relay/index.js';
import { ClientPump } from './client-pump.js';
import type { ColumnSources } from './column-sources.js';
import { Decisions } from './decisions.js';
import { Forwarder } from './forwarding.js';
import type { ProxyLink, UpstreamLink } from './link.js';
import { ReplyQueue } from './reply-queue.js';
import { ResultPlanner } from './result-plans.js';
import { RowShapes } from './row-shapes.js';
import { ServerPump } from './server-pump.js';
import { SQLSTATE_TARGET_LOST } from './sqlstate.js';
import { SessionNames } from './statements.js';
import { type MessageReader, MessageWriter, writeErrorResponse, writeTerminate } from './wire/index.js';

export { withResultFormats } from './column-plan.js';
export type { UpstreamLink } from './link.js';

export class PgProxy implements ProxyLink {
  readonly w = new MessageWriter();
  /** Named statements and portals as the server has them (see statements.ts). */
  readonly names = new SessionNames();
  readonly toServer: Outbound;
  readonly toClient: Outbound;
  readonly replies: ReplyQueue;
  readonly decisions: Decisions;
  readonly planner: ResultPlanner;
  readonly keepRows: number;
  private ended = false;
  private readonly fromClient: ClientPump;
  private readonly fromServer: ServerPump;

  constructor(
    private readonly client: Duplex,
    clientReader: MessageReader,
    readonly upstream: UpstreamLink,
    readonly session: GatewaySession,
    sources: ColumnSources,
    private readonly onClose: (proxy: PgProxy) => void,
  ) {
    const clientFlow = new Flow(client);
    const serverFlow = new Flow(upstream.socket);
    // A full side pauses the side that feeds it.
    this.toServer = new Outbound(upstream.socket, clientFlow);
    this.toClient = new Outbound(client, serverFlow);
    this.keepRows = session.recordRows;
    this.replies = new ReplyQueue(this.w, this.toClient);
    this.decisions = new Decisions(this);
    this.planner = new ResultPlanner(new RowShapes(sources));
    this.fromClient = new ClientPump(this, clientReader, clientFlow, new Forwarder(this));
    this.fromServer = new ServerPump(this, upstream.reader, serverFlow);
  }

  get closed(): boolean {
    return this.ended;
  }

  start(): void {
    const up = this.upstream.socket;
    this.fromClient.attach();
    this.fromServer.attach();
    this.client.on('close', () => this.shutdown('client disconnected'));
    this.client.on('error', () => this.shutdown('client connection error'));
    up.on('close', () => this.shutdown('target closed the connection', true));
    up.on('error', () => this.shutdown('target connection error', true));
    this.client.resume();
    up.resume();
    void this.fromClient.run();
    void this.fromServer.run();
  }

  /** CancelRequest for this session: end a held review wait and cancel the running query. */
  async cancel(): Promise<void> {
    this.decisions.cancelHold();
    await this.upstream.cancel().catch(() => {});
  }

  /** Send a FATAL error to the client and end the session. */
  terminateWith(sqlstate: string, message: string): void {
    if (this.ended) return;
    this.toClient.flush();
    this.client.write(writeErrorResponse(this.w, { severity: 'FATAL', code: sqlstate, message }).flush());
    this.shutdown(message);
  }

  shutdown(reason: string, targetGone = false): void {
    if (this.ended) return;
    this.ended = true;
    this.fromClient.stop();
    this.fromServer.stop();
    this.toClient.close();
    this.toServer.close();
    this.decisions.abortHold();
    if (targetGone) {
      this.client.end(
        writeErrorResponse(this.w, {
          severity: 'FATAL',
          code: SQLSTATE_TARGET_LOST,
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
      if (!targetGone && this.replies.size > 0) void this.upstream.cancel().catch(() => {});
      // Terminate, then close for real: unread result bytes make the close a reset, which ends
      // a backend blocked in send.
      up.end(writeTerminate(this.w).flush());
      up.destroySoon();
      setTimeout(() => up.destroy(), 2000).unref();
    }
    endThenDestroy(this.client);
    this.replies.clear();
    this.names.clear();
    this.decisions.wakeSettled();
    this.onClose(this);
    void this.session.close(reason);
  }
}

/** Socket.destroySoon for any stream (in-memory client streams have none): end, destroy when written. */
function endThenDestroy(stream: Duplex): void {
  if (stream.destroyed) return;
  if (stream.writableFinished) stream.destroy();
  else {
    stream.once('finish', () => stream.destroy());
    stream.end();
  }
}
