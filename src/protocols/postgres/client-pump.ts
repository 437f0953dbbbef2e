// Client → server: each message the client sends after authentication, in order. Statements go
// through their decision (forwarding.ts); the rest of the extended protocol is forwarded and
// expected in stream order; after a refusal, messages are skipped until Sync as the server would.
// Anything outside the protocol ends the session (fail closed).
import { type Flow, Pump } from '../relay/index.js';
import type { Forwarder } from './forwarding.js';
import type { ProxyLink } from './link.js';
import type { ReplyQueue } from './reply-queue.js';
import { SQLSTATE_PROTOCOL } from './sqlstate.js';
import {
  FrontendCode,
  type MessageReader,
  parseBind,
  parseClose,
  parseDescribe,
  parseExecute,
  parseParse,
  parseQuery,
} from './wire/index.js';

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

export class ClientPump extends Pump<MessageReader> {
  private readonly replies: ReplyQueue;

  constructor(
    private readonly link: ProxyLink,
    reader: MessageReader,
    flow: Flow,
    private readonly statements: Forwarder,
  ) {
    super(reader, flow);
    this.replies = link.replies;
  }

  protected handle(m: MessageReader): Promise<void> | undefined {
    const { buffer: buf, start, length } = m;
    const link = this.link;
    const replies = this.replies;
    switch (m.code) {
      case FrontendCode.Query:
        return this.statements.query(parseQuery(buf, start, length), m.frame());
      case FrontendCode.Parse: {
        if (replies.discarding) return undefined;
        const p = parseParse(buf, start, length);
        return this.statements.parse(p.name, p.text, m.frame());
      }
      case FrontendCode.Bind:
        if (replies.discarding) return undefined;
        return this.statements.bind(parseBind(buf, start, length), m.frame());
      case FrontendCode.Describe: {
        if (replies.discarding) return undefined;
        const d = parseDescribe(buf, start, length);
        // Only a portal's description is used (for masking), and only when it names this very
        // portal; a statement's shape can be redefined behind our back (SQL DEALLOCATE/PREPARE).
        const found = d.target === 'P' ? link.names.portal(d.name) : undefined;
        link.toServer.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        replies.expect({ t: 'describe', portal: typeof found === 'object' ? found : null, internal: false });
        return undefined;
      }
      case FrontendCode.Execute: {
        if (replies.discarding) return undefined;
        return this.statements.execute(parseExecute(buf, start, length).portal, m.frame());
      }
      case FrontendCode.Close: {
        if (replies.discarding) return undefined;
        const c = parseClose(buf, start, length);
        link.toServer.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        replies.expect({ t: 'close', target: c.target === 'S' ? 'S' : 'P', name: c.name });
        return undefined;
      }
      case FrontendCode.Sync:
        replies.discarding = false;
        link.toServer.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        replies.expect({ t: 'sync' });
        link.names.synced();
        return undefined;
      case FrontendCode.Flush:
        link.toServer.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        return undefined;
      case FrontendCode.CopyData:
      case FrontendCode.CopyDone:
      case FrontendCode.CopyFail:
        // COPY … FROM STDIN payload: the COPY statement itself was decided.
        link.toServer.pushFrom(m.buffer, m.frameStart, m.start + m.length);
        return undefined;
      case FrontendCode.Terminate:
        link.shutdown('client terminated');
        return undefined;
      case FrontendCode.FunctionCall:
        // The fast-path function call interface bypasses SQL analysis: refuse it.
        replies.refuse('blocked: the function-call protocol is not allowed through Warden', true);
        return undefined;
      default:
        // Fail closed on anything we do not understand in a guarded session.
        link.terminateWith(SQLSTATE_PROTOCOL, `unknown message type 0x${m.code.toString(16)} from client`);
        return undefined;
    }
  }

  /**
   * Refuse an unknown type or an oversized control message as soon as its header arrives, as
   * PostgreSQL does, rather than buffering up to the reader's limit for a message we would refuse.
   */
  protected override incomplete(reader: MessageReader): void {
    const code = reader.peekCode();
    if (code < 0) return;
    if (!CLIENT_CODES.has(code)) {
      this.link.terminateWith(SQLSTATE_PROTOCOL, `unknown message type 0x${code.toString(16)} from client`);
      return;
    }
    const length = reader.peekLength();
    if (length > SMALL_MESSAGE_LIMIT && SMALL_MESSAGES.has(code)) {
      this.link.terminateWith(
        SQLSTATE_PROTOCOL,
        `invalid message from client: message type 0x${code.toString(16)} of ${length} bytes is too large`,
      );
    }
  }

  protected flush(): void {
    this.link.toServer.flush();
    this.link.toClient.flush();
  }

  protected malformed(err: unknown): void {
    this.protocolViolation(err);
  }

  protected failed(err: unknown): void {
    this.protocolViolation(err);
  }

  private protocolViolation(err: unknown): void {
    this.link.terminateWith(SQLSTATE_PROTOCOL, `invalid message from client: ${(err as Error).message ?? String(err)}`);
  }
}
