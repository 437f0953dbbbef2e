// Session recordings: one append-only file per session, written with synchronous appends so a
// crash loses at most the event being written. Terminals are asciicast v2; queries and
// requests are JSON lines. Callers hand in what the client sent and received after masking.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { type AuditEntry, digestFile, isSecretKey, RECORDING_DIGEST_TYPE, stripSecrets } from '../audit/index.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { Store } from '../store/index.js';
import type { AsciicastEvent, AsciicastHeader, RecordingMeta } from './types.js';

const SAFE_SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Where a closed recording's digest is audited (the AuditLog; structural, so tests can pass one). */
export interface DigestSink {
  append(entry: AuditEntry): Promise<unknown>;
}

export class Recorder {
  private readonly clock: Clock;
  private readonly dir: string;
  private readonly instance: string | undefined;
  private readonly audit: DigestSink | undefined;

  constructor(
    dir: string,
    private readonly store: Store,
    opts: { clock?: Clock; instance?: string; audit?: DigestSink } = {},
  ) {
    this.dir = resolve(dir);
    this.clock = opts.clock ?? systemClock;
    this.instance = opts.instance;
    this.audit = opts.audit;
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
    return new SessionRecording(this.dir, meta, this.store, this.clock, this.instance, this.audit);
  }
}

export class SessionRecording {
  readonly session: string;
  /** Resolves once the session row is stored; end() waits for it too. */
  ready: Promise<void>;
  private path_: string | undefined;
  private format_: 'jsonl' | 'asciicast' | undefined;
  private readonly startedAt: number;
  private fd: number | undefined;
  private done = false;
  private operations = 0;
  private readonly meta: RecordingMeta;

  constructor(
    private readonly dir: string,
    meta: RecordingMeta,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly instance?: string,
    private readonly audit?: DigestSink,
  ) {
    this.meta = meta;
    this.session = meta.session;
    this.startedAt = clock.now();
    this.ready = Promise.resolve();
    if (meta.format !== 'deferred') this.begin(meta.format, meta);
  }

  /** The file's path (once begun). */
  get path(): string {
    if (this.path_ === undefined) throw new Error('recording not begun');
    return this.path_;
  }

  /** jsonl or asciicast once begun; `deferred` before. */
  get format(): 'jsonl' | 'asciicast' | 'deferred' {
    return this.format_ ?? 'deferred';
  }

  get begun(): boolean {
    return this.format_ !== undefined;
  }

  /**
   * Opens the file in `format` and creates the session row; times stay relative to when the
   * session opened. Only the first call counts (a later channel of an SSH session keeps it).
   */
  begin(format: 'jsonl' | 'asciicast', size: { width?: number; height?: number } = {}): void {
    if (this.format_ !== undefined || this.done) return;
    const meta = this.meta;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${meta.session}.${format === 'jsonl' ? 'jsonl' : 'cast'}`);
    this.path_ = path;
    this.format_ = format;
    this.fd = openSync(path, 'a', 0o600);
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
        ...(this.instance ? { instance: this.instance } : {}),
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
   * with an `effect` (a decided operation) counts as an operation. Ignored after end().
   */
  event(e: Record<string, unknown>): void {
    if (this.done) return;
    // Something to record before the adapter chose a format: JSON lines, so nothing is dropped.
    if (this.format_ === undefined) this.begin('jsonl');
    // Secret-named keys are dropped at any depth (stripSecrets); the copy is made only when
    // there is one, since events are recorded for every statement and result.
    let rest: Record<string, unknown> = hasSecretKey(e) ? stripSecrets(e) : e;
    if (Object.hasOwn(rest, 't') || Object.hasOwn(rest, 'at')) {
      const { t: _t, at: _at, ...others } = rest;
      rest = others;
    }
    if ('effect' in rest) this.operations++;
    const at = this.clock.now();
    const t = this.offset(at);
    if (this.format === 'jsonl') {
      // Same line as JSON.stringify({ t, at, ...rest }), without building that object.
      const body = JSON.stringify(rest);
      this.writeLine(
        `{"t":${JSON.stringify(t)},"at":${JSON.stringify(at)}${body === '{}' ? '}' : `,${body.slice(1)}`}`,
      );
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
    if (this.format_ === undefined) this.begin('jsonl');
    if (this.format === 'asciicast') this.writeCast([this.offset(this.clock.now()), 'r', `${width}x${height}`]);
    else this.event({ type: 'resize', width, height });
  }

  /**
   * Closes the file, ends the session row and audits the file's digest (sha256 of its bytes as
   * closed), so an edit made afterwards shows in `warden audit verify`. Safe to call twice.
   */
  async end(reason?: string): Promise<void> {
    if (this.done) return;
    // A session that ended before its format was known (an SSH login without a channel) still
    // gets its row and a JSON-lines file with its start and end.
    if (this.format_ === undefined) this.begin('jsonl');
    const at = this.clock.now();
    if (this.format === 'jsonl')
      this.event({ type: 'session.end', reason: reason ?? null, operations: this.operations });
    this.done = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    await this.ready;
    await this.store.endSession(this.session, { at, reason, operations: this.operations });
    if (this.audit)
      await auditRecordingDigest(this.audit, {
        id: this.session,
        sub: this.meta.sub,
        connection: this.meta.connection,
        recordingPath: this.path,
      });
  }

  private stream(code: 'o' | 'i', data: string): void {
    if (this.done || data === '') return;
    if (this.format_ === undefined) this.begin('jsonl');
    const at = this.clock.now();
    if (this.format === 'asciicast') this.writeCast([this.offset(at), code, data]);
    else this.event({ type: code === 'o' ? 'output' : 'input', data });
  }

  private offset(at: number): number {
    return Math.max(0, at - this.startedAt) / 1000;
  }

  private writeCast(e: AsciicastEvent): void {
    this.writeLine(JSON.stringify(e));
  }

  private writeLine(line: string): void {
    if (this.fd === undefined) return;
    // One write per line: a crash cuts at most this line, which readRecording tolerates.
    writeSync(this.fd, `${line}\n`);
  }
}

/** Audits the digest of a closed recording; `recovered`: closed at a restart, as a crash left it. */
export async function auditRecordingDigest(
  audit: DigestSink,
  s: { id: string; sub: string; connection: string; recordingPath: string },
  extra: { recovered?: boolean } = {},
): Promise<void> {
  const d = await digestFile(s.recordingPath);
  await audit.append({
    type: RECORDING_DIGEST_TYPE,
    actor: s.sub,
    session: s.id,
    connection: s.connection,
    // The file's name only: audit entries are served by the API, which shows no server paths.
    data: { sha256: d.sha256, bytes: d.bytes, file: basename(s.recordingPath), ...extra },
  });
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
