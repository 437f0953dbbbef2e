// A bare PostgreSQL v3 client for attack tests: arbitrary startup parameters, query text as raw
// bytes (any client encoding), pipelined batches, and a summary of what came back. It talks to
// the gateway (cleartext token) or straight to the server (SCRAM, via the gateway's own
// upstream connector) with the same API, so a test can compare the two.
import { connect, type Socket } from 'node:net';
import { connectUpstream } from '../../src/protocols/postgres/upstream/index.js';
import {
  BackendCode,
  dataRowCells,
  type ErrorNotice,
  FrontendCode,
  MessageReader,
  MessageWriter,
  parseCommandComplete,
  parseErrorResponse,
  writePasswordMessage,
  writeStartupMessage,
} from '../../src/protocols/postgres/wire/index.js';
import type { TestPostgres } from './postgres.js';

export interface RawMessage {
  code: number;
  payload: Buffer;
}

/** Append a simple Query whose text is given as bytes (no re-encoding). */
export function writeQueryBytes(w: MessageWriter, text: Buffer): MessageWriter {
  return w.begin(FrontendCode.Query).bytes(text).byte(0).end();
}

/** Append a Parse whose text is given as bytes. */
export function writeParseBytes(w: MessageWriter, name: string, text: Buffer): MessageWriter {
  return w.begin(FrontendCode.Parse).cstring(name).bytes(text).byte(0).int16(0).end();
}

export interface Summary {
  /** Message type letters in order (`1`, `2`, `T`, `D`, `C`, `E`, `Z`, …). */
  codes: string;
  /** CommandComplete tags. */
  tags: string[];
  errors: ErrorNotice[];
  /** DataRow cells as text (latin1 keeps every byte), null for SQL NULL. */
  rows: (string | null)[][];
  /** CopyData payloads concatenated. */
  copy: Buffer;
}

export function summarize(messages: readonly RawMessage[]): Summary {
  const s: Summary = { codes: '', tags: [], errors: [], rows: [], copy: Buffer.alloc(0) };
  const copy: Buffer[] = [];
  for (const m of messages) {
    s.codes += String.fromCharCode(m.code);
    if (m.code === BackendCode.CommandComplete) s.tags.push(parseCommandComplete(m.payload, 0, m.payload.length));
    else if (m.code === BackendCode.ErrorResponse) s.errors.push(parseErrorResponse(m.payload, 0, m.payload.length));
    else if (m.code === BackendCode.DataRow)
      s.rows.push(dataRowCells(m.payload, 0, m.payload.length).map((c) => (c === null ? null : c.toString('latin1'))));
    else if (m.code === BackendCode.CopyData) copy.push(m.payload);
  }
  s.copy = Buffer.concat(copy);
  return s;
}

export class WireClient {
  readonly messages: RawMessage[] = [];
  readonly w = new MessageWriter();
  closed = false;
  private readonly reader: MessageReader;
  private waiters: (() => void)[] = [];
  private readonly closedPromise: Promise<void>;

  private constructor(
    readonly socket: Socket,
    reader?: MessageReader,
  ) {
    this.reader = reader ?? new MessageReader();
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.drain();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
    this.drain();
  }

  private drain(): void {
    const r = this.reader;
    while (r.next())
      this.messages.push({ code: r.code, payload: Buffer.from(r.buffer.subarray(r.start, r.start + r.length)) });
    this.wake();
  }

  /**
   * A session through the gateway: startup (user `agent`, extra `params` such as client_encoding
   * or options), the token as the password. Resolves after ReadyForQuery; rejects with the
   * server's error fields if the login is refused.
   */
  static async gateway(
    port: number,
    token: string,
    opts: { database?: string; params?: Record<string, string> } = {},
  ): Promise<WireClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const c = new WireClient(socket);
    c.write(writeStartupMessage(c.w, { user: 'agent', database: opts.database ?? 'shop', ...opts.params }).flush());
    const first = await c.waitFor((m) => m.code === BackendCode.Authentication || m.code === BackendCode.ErrorResponse);
    if (first.code === BackendCode.ErrorResponse) throw loginError(first);
    c.write(writePasswordMessage(c.w, token).flush());
    const end = await c.waitFor((m) => m.code === BackendCode.ReadyForQuery || m.code === BackendCode.ErrorResponse);
    if (end.code === BackendCode.ErrorResponse) throw loginError(end);
    c.messages.length = 0;
    return c;
  }

  /** A session straight to the server as its app role (for reference runs). */
  static async direct(pg: TestPostgres, params: Record<string, string> = {}): Promise<WireClient> {
    const conn = await connectUpstream({
      host: pg.host,
      port: pg.port,
      database: pg.database,
      user: pg.user,
      password: pg.password,
      tls: 'disable',
      params,
    });
    const c = new WireClient(conn.socket as Socket, conn.reader);
    conn.socket.resume();
    return c;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Write whatever `build` appended to the writer, in one socket write. */
  send(build: (w: MessageWriter) => void): void {
    build(this.w);
    this.write(this.w.flush());
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.closed) return;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out after ${timeoutMs} ms; got ${this.messages.map((m) => String.fromCharCode(m.code)).join('')}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The first collected message matching `pred`; rejects on close or timeout. */
  async waitFor(pred: (m: RawMessage) => boolean, timeoutMs = 10_000): Promise<RawMessage> {
    await this.waitUntil(() => this.messages.some(pred), timeoutMs);
    const found = this.messages.find(pred);
    if (!found) throw new Error('connection closed');
    return found;
  }

  /**
   * Wait for `n` ReadyForQuery messages (or the connection closing), then take everything
   * collected so far. `closed` on the result tells whether the server ended the session.
   */
  async untilReady(n = 1, timeoutMs = 10_000): Promise<RawMessage[] & { closed: boolean }> {
    const count = () => {
      let k = 0;
      for (const m of this.messages) if (m.code === BackendCode.ReadyForQuery) k++;
      return k;
    };
    await this.waitUntil(() => count() >= n, timeoutMs);
    const out = this.take() as RawMessage[] & { closed: boolean };
    out.closed = this.closed;
    return out;
  }

  /** One simple Query (text or raw bytes) and its summary. */
  async query(text: string | Buffer, timeoutMs = 10_000): Promise<Summary & { closed: boolean }> {
    this.send((w) => writeQueryBytes(w, typeof text === 'string' ? Buffer.from(text, 'utf8') : text));
    const msgs = await this.untilReady(1, timeoutMs);
    return { ...summarize(msgs), closed: msgs.closed };
  }

  /** Wait until the server closes the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error('server did not close the connection')), timeoutMs);
      }),
    ]).finally(() => clearTimeout(t));
  }

  take(): RawMessage[] {
    return this.messages.splice(0);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function loginError(m: RawMessage): Error & { code?: string } {
  const f = parseErrorResponse(m.payload, 0, m.payload.length);
  return Object.assign(new Error(`login refused: ${f.code} ${f.message}`), { code: f.code });
}

/** An error that came from a Warden decision (not from the server): block, review or policy error. */
export function isWardenRefusal(e: { code?: string | undefined; message?: string | undefined }): boolean {
  return e.code === '42501' && /^(blocked by rule |blocked: |approval required: )/.test(e.message ?? '');
}
