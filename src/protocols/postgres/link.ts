// What the parts of one proxied session share; PgProxy is the link. The parts hold it rather than
// copies of its state, so all of them see the session end at once, and none needs another's class.
import type { Socket } from 'node:net';
import type { GatewaySession } from '../../gateway/index.js';
import type { Outbound } from '../relay/index.js';
import type { Decisions } from './decisions.js';
import type { ReplyQueue } from './reply-queue.js';
import type { ResultPlanner } from './result-plans.js';
import type { SessionNames } from './statements.js';
import type { MessageReader, MessageWriter } from './wire/index.js';

export interface UpstreamLink {
  socket: Socket;
  reader: MessageReader;
  cancel(): Promise<void>;
  /** The target backend's real pid and the pid the client was given instead. */
  realPid: number;
  clientPid: number;
}

export interface ProxyLink {
  /** True once the session ended: nothing more is decided, forwarded or sent. */
  readonly closed: boolean;
  readonly session: GatewaySession;
  readonly upstream: UpstreamLink;
  /** Builds the gateway's own messages (each is flushed as soon as it is built). */
  readonly w: MessageWriter;
  /** Named statements and portals as the server has them. */
  readonly names: SessionNames;
  readonly replies: ReplyQueue;
  readonly decisions: Decisions;
  readonly planner: ResultPlanner;
  readonly toServer: Outbound;
  readonly toClient: Outbound;
  /** Rows of each result kept for the recording. */
  readonly keepRows: number;
  /** Send a FATAL error to the client and end the session. */
  terminateWith(sqlstate: string, message: string): void;
  shutdown(reason: string, targetGone?: boolean): void;
}
