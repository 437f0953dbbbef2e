// The demo's PostgreSQL target: one PGlite instance served over the v3 wire protocol on a
// loopback port, so the gateway reaches it exactly as it reaches a real server (startup, a
// password only the gateway knows, simple and extended protocol). PGlite is a single backend:
// clients take turns through an ExclusiveLock, and their prepared statement names are made
// per-client (statement-names.ts). Session settings (SET …) are shared; that is fine for a demo.
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import {
  BackendCode,
  FrontendCode,
  MessageReader,
  MessageWriter,
  parsePasswordMessage,
  parseStartupPacket,
  StartupCode,
  writeAuthenticationCleartextPassword,
  writeAuthenticationOk,
  writeBackendKeyData,
  writeCopyFail,
  writeErrorResponse,
  writeQuery,
  writeReadyForQuery,
  writeStartupMessage,
  writeSync,
} from '../protocols/postgres/wire/index.js';
import { copyFromStdinText, copyInResponse, MAX_COPY_IN_BYTES, withoutCopyInResponse } from './copy-in.js';
import { ExclusiveLock } from './exclusive.js';
import { prefixStatementName } from './statement-names.js';

export interface PgliteServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The password clients must send (cleartext, loopback). */
  password: string;
}

export interface PgliteServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Serve `db` on host:port until `close()`. */
export async function servePglite(db: PGlite, opts: PgliteServerOptions): Promise<PgliteServer> {
  const host = opts.host ?? '127.0.0.1';
  const parameterStatus = await startupParameters(db);
  const lock = new ExclusiveLock<PgliteClient>();
  const expected = digest(opts.password);
  const clients = new Set<PgliteClient>();
  let nextId = 1;
  const server: Server = createServer((socket) => {
    const client = new PgliteClient(socket, nextId++, { db, lock, expected, parameterStatus });
    clients.add(client);
    socket.once('close', () => clients.delete(client));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    host,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of clients) c.destroy();
      await closed;
    },
  };
}

/** ParameterStatus messages PGlite reports for a session, replayed to every client at startup. */
async function startupParameters(db: PGlite): Promise<Buffer[]> {
  const w = new MessageWriter();
  writeStartupMessage(w, { user: 'postgres', database: 'postgres' });
  const out = Buffer.from(await db.execProtocolRaw(w.flush()));
  const reader = new MessageReader();
  reader.push(out);
  const params: Buffer[] = [];
  while (reader.next()) if (reader.code === BackendCode.ParameterStatus) params.push(Buffer.from(reader.frame()));
  return params;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

interface Shared {
  db: PGlite;
  lock: ExclusiveLock<PgliteClient>;
  expected: Buffer;
  parameterStatus: Buffer[];
}

type Phase = 'startup' | 'password' | 'ready' | 'closed';

class PgliteClient {
  private phase: Phase = 'startup';
  private readonly reader = new MessageReader({ startup: true });
  private readonly writer = new MessageWriter();
  private readonly prefix: string;
  private user = '';
  /** Frames waiting for this client's turn. */
  private pending: Buffer[] = [];
  /** Serializes this client's work: sends, then the cleanup when it leaves. */
  private chain: Promise<void> = Promise.resolve();
  /** Extended-protocol messages were sent after the last Sync. */
  private openExtended = false;
  /** Last ReadyForQuery status seen, or 'busy' while a reply without one is in progress (COPY IN). */
  private status: 'I' | 'T' | 'E' | 'busy' = 'I';
  private readonly prepared = new Set<string>();
  /** Collecting a COPY … FROM STDIN (statement first) until CopyDone/CopyFail. */
  private copyIn: Buffer[] | null = null;
  private copyInBytes = 0;
  /** An extended-protocol message was refused here: skip to Sync, as a server does after an error. */
  private discardUntilSync = false;

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly shared: Shared,
  ) {
    this.prefix = `c${id}_`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.once('close', () => this.onClose());
  }

  /** A getter, so checks after an await are not narrowed away by the compiler. */
  private get closed(): boolean {
    return this.phase === 'closed';
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    try {
      this.reader.push(chunk);
      while (!this.closed && this.reader.next()) this.onMessage();
    } catch {
      this.fatal('08P01', 'invalid message framing');
      return;
    }
    if (this.pending.length > 0) this.schedule(() => this.runPending());
  }

  private onMessage(): void {
    const r = this.reader;
    if (this.phase === 'startup') {
      const packet = parseStartupPacket(r.buffer, r.start, r.length);
      if (packet.kind === 'ssl-request' || packet.kind === 'gssenc-request') {
        this.socket.write('N');
        return;
      }
      if (packet.kind === 'cancel') {
        // PGlite runs one statement at a time inside this process; there is nothing to interrupt.
        this.socket.end();
        this.phase = 'closed';
        return;
      }
      if (packet.protocolVersion !== StartupCode.ProtocolV3) {
        this.fatal('0A000', 'unsupported frontend protocol');
        return;
      }
      this.user = packet.params.user ?? '';
      r.startup = false;
      this.phase = 'password';
      this.socket.write(writeAuthenticationCleartextPassword(this.writer).flush());
      return;
    }
    if (this.phase === 'password') {
      if (r.code !== FrontendCode.Password) {
        this.fatal('08P01', 'expected a password message');
        return;
      }
      const given = digest(parsePasswordMessage(r.buffer, r.start, r.length));
      if (!timingSafeEqual(given, this.shared.expected)) {
        this.fatal('28P01', `password authentication failed for user "${this.user}"`);
        return;
      }
      this.phase = 'ready';
      writeAuthenticationOk(this.writer);
      for (const p of this.shared.parameterStatus) this.writer.bytes(p);
      writeBackendKeyData(this.writer, this.id, randomInt(1, 2 ** 31 - 1));
      writeReadyForQuery(this.writer, 'I');
      this.socket.write(this.writer.flush());
      return;
    }
    if (r.code === FrontendCode.Terminate) {
      this.socket.end();
      return;
    }
    // Copied: the frame waits for our turn on the shared backend.
    const { frame, prepared } = prefixStatementName(Buffer.from(r.frame()), this.prefix);
    if (prepared) this.prepared.add(prepared);
    this.pending.push(frame);
  }

  private schedule(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch(() => {
      this.shared.lock.release(this);
      this.destroy();
    });
  }

  private async runPending(): Promise<void> {
    if (this.pending.length === 0 || this.closed) return;
    await this.shared.lock.acquire(this);
    // Frames that arrive while PGlite works are taken by the next turn of this loop.
    while (this.pending.length > 0 && !this.closed) {
      const frames = this.pending;
      this.pending = [];
      let batch: Buffer[] = [];
      for (const f of frames) {
        if (this.copyIn) {
          this.copyIn.push(f);
          this.copyInBytes += f.length;
          if (this.copyInBytes > MAX_COPY_IN_BYTES) throw new Error('COPY FROM STDIN too large for the demo target');
          if (f[0] === FrontendCode.CopyDone || f[0] === FrontendCode.CopyFail) {
            const all = this.copyIn;
            this.copyIn = null;
            await this.execute(all, true);
          }
          continue;
        }
        if (this.discardUntilSync) {
          if (f[0] !== FrontendCode.Sync) continue;
          this.discardUntilSync = false;
        }
        const copyText = copyFromStdinText(f);
        if (copyText !== null) {
          if (batch.length > 0) await this.execute(batch, false);
          batch = [];
          if (f[0] === FrontendCode.Parse) {
            this.socket.write(
              writeErrorResponse(this.writer, {
                severity: 'ERROR',
                code: '0A000',
                message: 'the demo target supports COPY FROM STDIN only in a simple query',
              }).flush(),
            );
            this.discardUntilSync = true;
            continue;
          }
          this.copyIn = [f];
          this.copyInBytes = f.length;
          this.status = 'busy';
          this.socket.write(copyInResponse(copyText));
          continue;
        }
        const code = f[0];
        if (code === FrontendCode.Sync || code === FrontendCode.Query) this.openExtended = false;
        else if (code !== FrontendCode.CopyData && code !== FrontendCode.CopyDone && code !== FrontendCode.CopyFail)
          this.openExtended = true;
        batch.push(f);
      }
      if (batch.length > 0) await this.execute(batch, false);
    }
    if (
      this.status === 'I' &&
      !this.openExtended &&
      !this.copyIn &&
      !this.discardUntilSync &&
      this.pending.length === 0
    ) {
      this.shared.lock.release(this);
    }
  }

  /** Run frames on PGlite (holding the lock) and send the reply to the client. */
  private async execute(frames: Buffer[], copyIn: boolean): Promise<void> {
    let out: Buffer = Buffer.from(await this.shared.db.execProtocolRaw(Buffer.concat(frames)));
    if (copyIn) out = withoutCopyInResponse(out);
    this.status = lastReadyStatus(out) ?? 'busy';
    if (!this.closed) this.socket.write(out);
  }

  /** A client that leaves mid-transaction or with prepared statements leaves the backend clean. */
  private async cleanup(): Promise<void> {
    const lock = this.shared.lock;
    const dirty = lock.owner === this || this.prepared.size > 0;
    if (!dirty) return;
    await lock.acquire(this);
    try {
      const w = this.writer;
      writeCopyFail(w, 'client disconnected');
      writeSync(w);
      const status = lastReadyStatus(Buffer.from(await this.shared.db.execProtocolRaw(w.flush())));
      if (status !== 'I') {
        writeQuery(w, 'ROLLBACK');
        await this.shared.db.execProtocolRaw(w.flush());
      }
      if (this.prepared.size > 0) {
        for (const name of this.prepared) w.begin(FrontendCode.Close).byte(0x53).cstring(name).end();
        writeSync(w);
        await this.shared.db.execProtocolRaw(w.flush());
      }
    } finally {
      lock.release(this);
    }
  }

  private onClose(): void {
    if (this.phase === 'closed' && this.shared.lock.owner !== this && this.prepared.size === 0) return;
    this.phase = 'closed';
    this.pending = [];
    this.schedule(() => this.cleanup());
  }

  private fatal(code: string, message: string): void {
    this.phase = 'closed';
    this.socket.end(writeErrorResponse(this.writer, { severity: 'FATAL', code, message }).flush());
  }
}

/** The status byte of the last ReadyForQuery in a reply, if it has one. */
function lastReadyStatus(out: Buffer): 'I' | 'T' | 'E' | undefined {
  const reader = new MessageReader({ maxMessageSize: Number.MAX_SAFE_INTEGER });
  reader.push(out);
  let status: 'I' | 'T' | 'E' | undefined;
  while (reader.next()) {
    if (reader.code === BackendCode.ReadyForQuery)
      status = String.fromCharCode(reader.buffer[reader.start]!) as 'I' | 'T' | 'E';
  }
  return status;
}
