// Session recordings: one append-only recording per session — a file in the recordings folder
// (recordingStore: files) or chunks in the store (recordingStore: database, so every gateway
// instance sharing a PostgreSQL store can read it; src/recording/source.ts reads both).
// Terminals are asciicast v2; queries and requests are JSON lines. Callers hand in what the
// client sent and received after masking.
//
// Writes are buffered per recording: an event is timed when it is recorded and made into its line
// in one setImmediate after that turn of the event loop (queueSerialize, below: off the round trip
// of the statement it records); lines are appended to a string that is flushed FLUSH_MS
// after its first line, at once when it reaches FLUSH_BYTES, and synchronously at end(). A file
// flush is one writeSync; a store flush is one chunk row, which the Recorder's ChunkWriter
// inserts with the other recordings' chunks of the same moment (one INSERT), and end() waits for
// it. So the hot path makes no syscall or query per event, and a crash loses at most the last FLUSH_MS
// (20 ms) of events (the unflushed buffer, and store chunks not yet committed). A flush
// holds whole lines only, so what a crash can leave is a recording that stops early or, at worst,
// a last line cut short, which readRecording (and every reader) tolerates.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import {
  type AuditEntry,
  digestFile,
  digestStream,
  isSecretKey,
  RECORDING_DIGEST_TYPE,
  stripSecrets,
} from '../audit/index.js';
import { type Clock, systemClock } from '../core/clock.js';
import { jsonNumber } from '../core/json-string.js';
import type { Database, Store } from '../store/index.js';
import { ChunkWriter } from './chunk-writer.js';
import { FileSink, type RecordingSink, StoreSink } from './sinks.js';
import {
  isStoreRecording,
  openRecording,
  type RecordingStoreKind,
  recordingFileName,
  recordingName,
  storeRecordingPath,
} from './source.js';
import type { AsciicastEvent, AsciicastHeader, RecordingMeta } from './types.js';

/**
 * A buffer is flushed this long after its first line… (20, not 5: each busy session's flush is a
 * write syscall, and at 5 ms eight busy sessions made 1,600 a second, ~3.5% of the gateway's CPU
 * under pgbench; the audit log, not the recording, is what each operation waits for.)
 */
export const FLUSH_MS = 20;
/** …or as soon as it holds this much (characters: about as many bytes). */
export const FLUSH_BYTES = 64 * 1024;

const SAFE_SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Where a closed recording's digest is audited (the AuditLog; structural, so tests can pass one). */
export interface DigestSink {
  append(entry: AuditEntry): Promise<unknown>;
}

interface RecordingContext {
  dir: string;
  store: Store;
  clock: Clock;
  kind: RecordingStoreKind;
  instance: string | undefined;
  audit: DigestSink | undefined;
  /** This process's recordings not ended yet, by session. */
  live: Map<string, SessionRecording>;
  /** recordingStore database: the one writer of every recording's chunks (made on first use). */
  chunks: ChunkWriter | undefined;
}

export class Recorder {
  private readonly ctx: RecordingContext;

  constructor(
    dir: string,
    store: Store,
    opts: {
      clock?: Clock;
      instance?: string;
      audit?: DigestSink;
      /** Files in `dir` (default) or chunks in the store. */
      recordingStore?: RecordingStoreKind;
    } = {},
  ) {
    this.ctx = {
      dir: resolve(dir),
      store,
      clock: opts.clock ?? systemClock,
      kind: opts.recordingStore ?? 'files',
      instance: opts.instance,
      audit: opts.audit,
      live: new Map(),
      chunks: undefined,
    };
  }

  /** Where this recorder writes. */
  get recordingStore(): RecordingStoreKind {
    return this.ctx.kind;
  }

  /**
   * Flushes a live recording of this process and waits until it is stored, so a reader sees
   * every event recorded so far (a recording live on another instance is at most FLUSH_MS behind).
   */
  async settle(session: string): Promise<void> {
    await this.ctx.live.get(session)?.settle();
  }

  /**
   * Opens the session's file and creates its row (await `ready` to know the row exists). With
   * format `deferred` neither happens until `begin(format)` — for an adapter that learns the
   * format after the session opens (SSH: at the first channel, a pty shell records asciicast).
   */
  start(meta: RecordingMeta): SessionRecording {
    if (!SAFE_SESSION_ID.test(meta.session)) throw new TypeError('session id is not a safe file name');
    if (meta.format !== 'jsonl' && meta.format !== 'asciicast' && meta.format !== 'deferred')
      throw new TypeError('format must be jsonl, asciicast or deferred');
    return new SessionRecording(this.ctx, meta);
  }
}

export class SessionRecording {
  readonly session: string;
  /** Resolves once the session row is stored; end() waits for it too. */
  ready: Promise<void>;
  private path_: string | undefined;
  private format_: 'jsonl' | 'asciicast' | undefined;
  private readonly startedAt: number;
  private sink: RecordingSink | undefined;
  /** Lines not flushed yet (whole lines only). */
  private buffer = '';
  /** Events not written as lines yet: event, time, event, time… */
  private events: unknown[] = [];
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  private operations = 0;
  private readonly meta: RecordingMeta;
  private readonly store: Store;
  private readonly clock: Clock;

  constructor(
    private readonly ctx: RecordingContext,
    meta: RecordingMeta,
  ) {
    this.meta = meta;
    this.session = meta.session;
    this.store = ctx.store;
    this.clock = ctx.clock;
    this.startedAt = ctx.clock.now();
    this.ready = Promise.resolve();
    if (meta.format !== 'deferred') this.begin(meta.format, meta);
  }

  /** The recording's path: a file, or `store:<session>.<ext>` for one kept in the store (once begun). */
  get path(): string {
    if (this.path_ === undefined) throw new Error('recording not begun');
    return this.path_;
  }

  /** jsonl or asciicast once begun; `deferred` before. */
  get format(): 'jsonl' | 'asciicast' | 'deferred' {
    return this.format_ ?? 'deferred';
  }

  /**
   * Opens the file in `format` and creates the session row; times stay relative to when the
   * session opened. Only the first call counts (a later channel of an SSH session keeps it).
   */
  begin(format: 'jsonl' | 'asciicast', size: { width?: number; height?: number } = {}): void {
    if (this.format_ !== undefined || this.done) return;
    const meta = this.meta;
    let path: string;
    if (this.ctx.kind === 'database') {
      path = storeRecordingPath(meta.session, format);
      this.ctx.chunks ??= new ChunkWriter(this.store.db);
      this.sink = new StoreSink(this.ctx.chunks, meta.session);
    } else {
      mkdirSync(this.ctx.dir, { recursive: true, mode: 0o700 });
      path = join(this.ctx.dir, recordingFileName(meta.session, format));
      this.sink = new FileSink(path);
    }
    this.path_ = path;
    this.format_ = format;
    this.ctx.live.set(meta.session, this);
    if (format === 'asciicast') {
      const header: AsciicastHeader = {
        version: 2,
        width: size.width ?? 80,
        height: size.height ?? 24,
        timestamp: Math.floor(this.startedAt / 1000),
        title: `${meta.sub}@${meta.connection}`,
        warden: {
          session: meta.session,
          connection: meta.connection,
          issuer: meta.issuer,
          sub: meta.sub,
          groups: meta.groups,
        },
      };
      this.writeLine(JSON.stringify(header));
    } else {
      this.event({
        type: 'session.start',
        session: meta.session,
        connection: meta.connection,
        connectionType: meta.connectionType,
        issuer: meta.issuer,
        sub: meta.sub,
        groups: meta.groups,
      });
    }
    this.ready = this.store
      .createSession({
        id: meta.session,
        connection: meta.connection,
        connectionType: meta.connectionType,
        issuer: meta.issuer,
        sub: meta.sub,
        groups: meta.groups,
        startedAt: this.startedAt,
        format,
        recordingPath: path,
        ...(this.ctx.instance ? { instance: this.ctx.instance } : {}),
      })
      .then(() => undefined);
    // end() reports a failure; until then it must not surface as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  get ended(): boolean {
    return this.done;
  }

  /**
   * A structured event (jsonl: one line with `t` and `at` added; asciicast: a marker). An event
   * with an `effect` (a decided operation) counts as an operation. Ignored after end(). The event
   * is the recording's from here on (not to be changed): it is timed now and turned into its line
   * after this turn's writes (see queueSerialize).
   */
  event(e: Record<string, unknown>): void {
    if (this.done) return;
    this.beginIfDeferred();
    if ('effect' in e) this.operations++;
    if (this.events.length === 0) queueSerialize(this);
    this.events.push(e, this.clock.now());
  }

  /** Writes the events recorded so far as lines (in order, before anything written after them). */
  serializeEvents(): void {
    const events = this.events;
    if (events.length === 0) return;
    this.events = [];
    for (let i = 0; i < events.length; i += 2) {
      const at = events[i + 1] as number;
      try {
        this.writeEvent(events[i] as Record<string, unknown>, at);
      } catch {
        // Not representable as JSON (a cycle, a BigInt): the recording says so rather than dropping it silently.
        this.writeEvent({ type: 'unrecordable', of: String((events[i] as { type?: unknown }).type) }, at);
      }
    }
  }

  private writeEvent(e: Record<string, unknown>, at: number): void {
    // Secret-named keys are dropped at any depth (stripSecrets); the copy is made only when
    // there is one, since events are recorded for every statement and result.
    let rest: Record<string, unknown> = hasSecretKey(e) ? stripSecrets(e) : e;
    if (Object.hasOwn(rest, 't') || Object.hasOwn(rest, 'at')) {
      const { t: _t, at: _at, ...others } = rest;
      rest = others;
    }
    const t = this.offset(at);
    if (this.format === 'jsonl') {
      // Same line as JSON.stringify({ t, at, ...rest }), without building that object.
      const body = JSON.stringify(rest);
      this.writeLine(`{"t":${jsonNumber(t)},"at":${jsonNumber(at)}${body === '{}' ? '}' : `,${body.slice(1)}`}`);
    } else this.writeCast([t, 'm', JSON.stringify(rest)]);
  }

  /** Counts an operation that has no structured event (e.g. a shell command line). */
  countOperation(): void {
    this.operations++;
  }

  output(data: string): void {
    this.stream('o', data);
  }

  input(data: string): void {
    this.stream('i', data);
  }

  resize(width: number, height: number): void {
    if (this.done) return;
    this.beginIfDeferred();
    if (this.format === 'asciicast') this.writeCastNow([this.offset(this.clock.now()), 'r', `${width}x${height}`]);
    else this.event({ type: 'resize', width, height });
  }

  /** Flushes the buffer now and resolves once everything recorded so far is stored. */
  settle(): Promise<void> {
    this.flush();
    return this.sink?.settled() ?? Promise.resolve();
  }

  /**
   * Flushes and closes the recording, ends the session row and audits the recording's digest
   * (sha256 of its bytes as closed), so an edit made afterwards shows in `warden audit verify`.
   * Safe to call twice. Rejects when the recording could not be stored (the row is ended anyway).
   */
  async end(reason?: string): Promise<void> {
    if (this.done) return;
    // A session that ended before its format was known (an SSH login without a channel) still
    // gets its row and a JSON-lines recording with its start and end.
    this.beginIfDeferred();
    const at = this.clock.now();
    if (this.format === 'jsonl')
      this.event({ type: 'session.end', reason: reason ?? null, operations: this.operations });
    this.done = true;
    this.flush();
    let stored: unknown;
    await this.sink?.close().catch((err: unknown) => {
      stored = err ?? new Error('recording write failed');
    });
    if (this.ctx.live.get(this.session) === this) this.ctx.live.delete(this.session);
    await this.ready;
    await this.store.endSession(this.session, { at, reason, operations: this.operations });
    if (stored !== undefined) throw stored;
    if (this.ctx.audit)
      await auditRecordingDigest(
        this.ctx.audit,
        { id: this.session, sub: this.meta.sub, connection: this.meta.connection, recordingPath: this.path },
        { db: this.store.db },
      );
  }

  /** Something to record before the adapter chose a format: JSON lines, so nothing is dropped. */
  private beginIfDeferred(): void {
    if (this.format_ === undefined) this.begin('jsonl');
  }

  private stream(code: 'o' | 'i', data: string): void {
    if (this.done || data === '') return;
    this.beginIfDeferred();
    const at = this.clock.now();
    if (this.format === 'asciicast') this.writeCastNow([this.offset(at), code, data]);
    else this.event({ type: code === 'o' ? 'output' : 'input', data });
  }

  private offset(at: number): number {
    return Math.max(0, at - this.startedAt) / 1000;
  }

  private writeCast(e: AsciicastEvent): void {
    this.writeLine(JSON.stringify(e));
  }

  /** A line written at once (terminal output, a resize): the events before it go first. */
  private writeCastNow(e: AsciicastEvent): void {
    this.serializeEvents();
    this.writeCast(e);
  }

  private writeLine(line: string): void {
    if (this.sink === undefined) return;
    this.buffer += `${line}\n`;
    if (this.buffer.length >= FLUSH_BYTES) this.flushBuffer();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, FLUSH_MS);
      // An idle process is not kept alive by a pending flush (end() flushes what is left).
      this.timer.unref();
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flush();
  };

  /** Hands what was recorded so far to the sink (a file: written now; the store: one chunk). */
  private flush(): void {
    this.serializeEvents();
    this.flushBuffer();
  }

  private flushBuffer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffer === '' || this.sink === undefined) return;
    const text = this.buffer;
    this.buffer = '';
    this.sink.write(text);
  }
}

/**
 * Audits the digest of a closed recording (read through the recording reader: a file, or its
 * chunks from `opts.db`); `recovered`: closed at a restart, as a crash left it.
 */
export async function auditRecordingDigest(
  audit: DigestSink,
  s: { id: string; sub: string; connection: string; recordingPath: string },
  opts: { recovered?: boolean; db?: Kysely<Database> } = {},
): Promise<void> {
  const d = isStoreRecording(s.recordingPath)
    ? await digestStream(openRecording(s.recordingPath, { db: opts.db }))
    : await digestFile(s.recordingPath);
  await audit.append({
    type: RECORDING_DIGEST_TYPE,
    actor: s.sub,
    session: s.id,
    connection: s.connection,
    // The recording's name only: audit entries are served by the API, which shows no server paths.
    data: {
      sha256: d.sha256,
      bytes: d.bytes,
      file: recordingName(s.recordingPath),
      ...(opts.recovered ? { recovered: true } : {}),
    },
  });
}

/**
 * Recordings with events to serialize: their lines are made in one setImmediate after this turn of
 * the event loop, after the writes it made. A statement's events are off its critical path that
 * way: the gateway makes them while the server runs the statement or the client reads the result
 * (at c=1, ~5 µs each that were on every round trip), and the time `t` is taken when it happened.
 */
let serializeQueue: SessionRecording[] = [];

function queueSerialize(recording: SessionRecording): void {
  if (serializeQueue.length === 0) setImmediate(serializeQueued);
  serializeQueue.push(recording);
}

function serializeQueued(): void {
  const queue = serializeQueue;
  serializeQueue = [];
  for (const r of queue) r.serializeEvents();
}

/** True when stripSecrets would drop something from `value` (same walk: arrays, plain objects). */
function hasSecretKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === 'object' && hasSecretKey(v)) return true;
    return false;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (isSecretKey(k)) return true;
    const v = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object' && hasSecretKey(v)) return true;
  }
  return false;
}
