// Helpers shared by the PostgreSQL front-door suites: real psql/pgbench as child processes, a raw
// wire-protocol client for the edge cases real drivers cannot produce, and recording reads.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  BackendCode,
  MessageReader,
  MessageWriter,
  parseErrorResponse,
  writePasswordMessage,
  writeStartupMessage,
} from '../../../src/protocols/postgres/wire/index.js';
import type { TestGateway } from '../../helpers/gateway.js';

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a program to completion (never rejects on a non-zero exit; kills it after `timeoutMs`). */
export function runProgram(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** libpq connection string through the gateway; the token travels as PGPASSWORD. */
export function conninfo(gw: TestGateway, sslmode: 'disable' | 'require' = 'disable', dbname = 'shop'): string {
  return `host=127.0.0.1 port=${gw.pgPort} dbname=${dbname} user=agent sslmode=${sslmode} connect_timeout=10`;
}

/** psql through the gateway: unaligned, tuples only, no psqlrc; SQL from `-c` or stdin. */
export function psql(
  gw: TestGateway,
  token: string,
  sql: { command?: string; input?: string },
  opts: { sslmode?: 'disable' | 'require'; dbname?: string; extraArgs?: string[]; timeoutMs?: number } = {},
): Promise<ProcResult> {
  const args = [
    '-X',
    '-A',
    '-t',
    '-v',
    'ON_ERROR_STOP=0',
    ...(opts.extraArgs ?? []),
    '-d',
    conninfo(gw, opts.sslmode, opts.dbname),
  ];
  if (sql.command !== undefined) args.push('-c', sql.command);
  return runProgram('/usr/bin/psql', args, {
    env: { PGPASSWORD: token, PGAPPNAME: 'warden-test' },
    ...(sql.input !== undefined ? { input: sql.input } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  });
}

export interface SessionRecordingFile {
  /** The session.start event: session, sub, groups, connection. */
  start: Record<string, unknown>;
  text: string;
  events: Record<string, unknown>[];
}

/** Every session recording (JSON lines) the gateway wrote, parsed, with its raw text. */
export async function readRecordings(gw: TestGateway): Promise<SessionRecordingFile[]> {
  const dir = join(gw.dir, 'recordings');
  const out: SessionRecordingFile[] = [];
  for (const f of (await readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort()) {
    const text = await readFile(join(dir, f), 'utf8');
    const events = text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    out.push({ start: events.find((e) => e.type === 'session.start') ?? {}, text, events });
  }
  return out;
}

export interface RawMessage {
  code: number;
  payload: Buffer;
}

/** The fields of an ErrorResponse/NoticeResponse payload. */
export function errorFields(m: RawMessage): ReturnType<typeof parseErrorResponse> {
  return parseErrorResponse(m.payload, 0, m.payload.length);
}

/**
 * A bare v3 client over a TCP socket: write any bytes, collect the server's messages, see when
 * the server closes. For malformed input and precise protocol sequences.
 */
export class RawClient {
  readonly socket: Socket;
  readonly messages: RawMessage[] = [];
  readonly w = new MessageWriter();
  closed = false;
  private readonly reader = new MessageReader();
  private waiters: (() => void)[] = [];
  readonly closedPromise: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      while (this.reader.next()) {
        const r = this.reader;
        this.messages.push({ code: r.code, payload: Buffer.from(r.buffer.subarray(r.start, r.start + r.length)) });
      }
      this.wake();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connect and authenticate with `token`; resolves after the first ReadyForQuery. */
  static async session(port: number, token: string, database = 'shop'): Promise<RawClient> {
    const c = await RawClient.connect(port);
    c.write(writeStartupMessage(c.w, { user: 'agent', database }).flush());
    await c.waitFor((m) => m.code === BackendCode.Authentication);
    c.write(writePasswordMessage(c.w, token).flush());
    const end = await c.waitFor((m) => m.code === BackendCode.ReadyForQuery || m.code === BackendCode.ErrorResponse);
    if (end.code === BackendCode.ErrorResponse) throw new Error(`login failed: ${errorFields(end).message}`);
    c.messages.length = 0;
    return c;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first collected message matching `pred` (waiting for it); rejects on close or timeout. */
  async waitFor(pred: (m: RawMessage) => boolean, timeoutMs = 10_000): Promise<RawMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (this.closed) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a message');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
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

  /** Take and clear the collected messages. */
  take(): RawMessage[] {
    return this.messages.splice(0);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export const ms = (n: number) => new Promise<void>((r) => setTimeout(r, n));
