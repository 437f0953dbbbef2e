// A recording read through the READER's masking plan. A recording holds what its session's
// client received: clear values when that identity was unmasked (a DBA in `unmaskedFor`). Who
// reads it later gets the values their own plan allows, so every text value of every event is
// masked again for them, line by line (recordings can be large; nothing is read whole).
//
// The recording keeps result column names but not their source columns, so masking by column
// here is by name (a configured `public.customers.email` covers any column named `email`), and
// a result whose statement names a masked column anywhere (an alias, an expression, a COPY, a
// subquery: lineage the recording cannot show) has every cell redacted. Content detectors run
// on everything else. Both err toward masking.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { ColumnMatcher } from '../masking/columns.js';
import { ALWAYS_MASKED_SOURCES, type Masker, StreamMasker } from '../masking/index.js';
import { openRecording, type RecordingReadOptions } from './source.js';
import type { AsciicastEvent } from './types.js';

/** Longest line accepted; a longer one (never written by the Recorder) is dropped, not buffered. */
const MAX_LINE = 64 * 1024 * 1024;
/** Operations whose result has not been seen yet, remembered per recording (bounded). */
const MAX_OPEN_OPS = 10_000;

/** Values the gateway itself writes (ids, names from the config and the token, decisions): kept. */
const METADATA_KEYS = new Set([
  't',
  'at',
  'type',
  'op',
  'session',
  'connection',
  'connectionType',
  'issuer',
  'sub',
  'groups',
  'effect',
  'rules',
  'kind',
  'review',
  'operations',
  'rowCount',
  'width',
  'height',
  'status',
]);

/**
 * The recording at `path` as the reader may see it. `masker` null or inactive: the bytes as
 * stored. Otherwise a stream of masked lines; lines that do not parse (a last line cut short by
 * a crash) are dropped rather than passed through unmasked.
 */
export function readRecordingMasked(
  path: string,
  format: 'jsonl' | 'asciicast',
  masker: Masker | null,
  opts: RecordingReadOptions = {},
): Readable {
  const source = openRecording(path, opts);
  if (masker === null || !masker.active) return source;
  const transform = new RecordingMasker(masker, format);
  source.on('error', (err) => transform.destroy(err));
  return source.pipe(transform);
}

/** Masks a whole recording given as text (tests, small files). */
export async function maskRecordingText(text: string, format: 'jsonl' | 'asciicast', masker: Masker): Promise<string> {
  const chunks: string[] = [];
  for await (const c of Readable.from([text]).pipe(new RecordingMasker(masker, format))) chunks.push(String(c));
  return chunks.join('');
}

export class RecordingMasker extends Transform {
  private partial = '';
  private skipping = false;
  private line = 0;
  private readonly names: ColumnMatcher;
  private readonly leaves: ReadonlySet<string>;
  /** op id → its statement names a masked column (its results are redacted whole). */
  private readonly opensMasked = new Map<string, boolean>();
  private readonly streams = new Map<string, StreamMasker>();
  private lastT = 0;
  private lastAt = 0;

  constructor(
    private readonly masker: Masker,
    private readonly format: 'jsonl' | 'asciicast',
  ) {
    super({ readableObjectMode: false, writableObjectMode: false, decodeStrings: true });
    // Recorded columns carry their names only: the always-masked sources (other sessions' SQL
    // text) count by their bare name here, like the configured ones.
    const columns = [...masker.plan.columns, ...ALWAYS_MASKED_SOURCES];
    this.names = new ColumnMatcher(columns);
    this.leaves = new Set(columns.map((c) => c.slice(c.lastIndexOf('.') + 1)));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      let text = this.partial + chunk.toString('utf8');
      let nl = text.indexOf('\n');
      while (nl !== -1) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (this.skipping) this.skipping = false;
        else this.onLine(line);
        nl = text.indexOf('\n');
      }
      if (text.length > MAX_LINE) {
        this.skipping = true;
        text = '';
      }
      this.partial = text;
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      // A last line without its newline is a line cut by a crash: only kept if it parses.
      if (!this.skipping && this.partial.trim() !== '') this.onLine(this.partial);
      this.partial = '';
      for (const [code, sm] of this.streams) {
        const rest = sm.flush();
        if (rest === '') continue;
        if (this.format === 'asciicast') this.emit_([this.lastT, code as 'o' | 'i', rest]);
        else this.emit_({ t: this.lastT, at: this.lastAt, type: code === 'o' ? 'output' : 'input', data: rest });
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private onLine(line: string): void {
    this.line++;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return;
    }
    if (this.format === 'asciicast') this.castLine(value);
    else if (isObject(value)) this.jsonlEvent(value);
  }

  private castLine(value: unknown): void {
    if (this.line === 1 && isObject(value)) {
      // The header: written by the Recorder from the session's metadata, no client data.
      this.emit_(value);
      return;
    }
    if (!Array.isArray(value) || value.length < 3 || typeof value[0] !== 'number' || typeof value[2] !== 'string')
      return;
    const [t, code, data] = value as AsciicastEvent;
    this.lastT = Math.max(this.lastT, t);
    if (code === 'o' || code === 'i') {
      const out = this.stream(code).push(data);
      if (out !== '') this.emit_([t, code, out]);
    } else if (code === 'm') {
      let inner: unknown;
      try {
        inner = JSON.parse(data);
      } catch {
        this.emit_([t, code, this.masker.maskText(data)]);
        return;
      }
      this.emit_([t, code, JSON.stringify(isObject(inner) ? this.maskEvent(inner) : this.maskValue(inner))]);
    } else if (code === 'r') {
      this.emit_([t, code, data]);
    }
  }

  private jsonlEvent(e: Record<string, unknown>): void {
    if (typeof e.t === 'number') this.lastT = Math.max(this.lastT, e.t);
    if (typeof e.at === 'number') this.lastAt = Math.max(this.lastAt, e.at);
    if ((e.type === 'output' || e.type === 'input') && typeof e.data === 'string') {
      // Streamed terminal text: a value split across two events is masked whole.
      const data = this.stream(e.type === 'output' ? 'o' : 'i').push(e.data);
      if (data !== '') this.emit_({ ...this.maskEvent({ ...e, data: '' }), data });
      return;
    }
    this.emit_(this.maskEvent(e));
  }

  private maskEvent(e: Record<string, unknown>): Record<string, unknown> {
    const opId = typeof e.op === 'string' ? e.op : undefined;
    if (e.type === 'operation' && opId !== undefined && typeof e.text === 'string') {
      if (this.opensMasked.size >= MAX_OPEN_OPS)
        this.opensMasked.delete(this.opensMasked.keys().next().value as string);
      this.opensMasked.set(opId, this.namesMaskedColumn(e.text));
    }
    let redactAll = false;
    if (e.type === 'result' && opId !== undefined) {
      // Unknown statement (its operation line lost or evicted): fail closed.
      // (A multi-statement query records several results for one operation: kept until evicted.)
      redactAll = this.leaves.size > 0 && (this.opensMasked.get(opId) ?? true);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) {
      if (METADATA_KEYS.has(k)) out[k] = v;
      else if (k === 'rows' && Array.isArray(v))
        out[k] = this.maskRows(v, Array.isArray(e.columns) ? e.columns : [], redactAll);
      else out[k] = this.maskValue(v);
    }
    return out;
  }

  private maskRows(rows: unknown[], columns: unknown[], redactAll: boolean): unknown[] {
    const byName = columns.map((c) => redactAll || (typeof c === 'string' && this.columnMasked(c)));
    return rows.map((row) => {
      if (!Array.isArray(row)) return this.maskValue(row);
      return row.map((cell, i) => ((byName[i] ?? redactAll) ? this.redact(cell) : this.maskCell(cell)));
    });
  }

  private columnMasked(name: string): boolean {
    return this.names.matches([name]) || this.names.matchesKey(name);
  }

  private redact(cell: unknown): unknown {
    if (cell === null || cell === undefined) return cell ?? null;
    return typeof cell === 'string' ? this.masker.redactColumnValue(cell) : this.masker.maskedNonText;
  }

  /** A result cell under the detectors: JSON text by keys and content; a number that matches → NULL. */
  private maskCell(cell: unknown): unknown {
    if (typeof cell === 'string') {
      const c = cell.charCodeAt(0);
      return c === 123 || c === 91 ? this.masker.maskJsonText(cell) : this.masker.maskText(cell);
    }
    if (typeof cell === 'number' || typeof cell === 'bigint') {
      const s = String(cell);
      return this.masker.maskText(s) === s ? cell : this.masker.maskedNonText;
    }
    return this.maskValue(cell);
  }

  /** Any other value: strings through the detectors, JSON-looking text as JSON, objects deep. */
  private maskValue(v: unknown): unknown {
    if (typeof v === 'string') {
      const c = v.charCodeAt(0);
      return c === 123 || c === 91 ? this.masker.maskJsonText(v) : this.masker.maskText(v);
    }
    if (v !== null && typeof v === 'object') return this.masker.maskJson(v);
    return v;
  }

  /** True when the statement text uses, as an identifier, the name of a masked column. */
  private namesMaskedColumn(text: string): boolean {
    if (this.leaves.size === 0) return false;
    IDENT.lastIndex = 0;
    for (let m = IDENT.exec(text); m !== null; m = IDENT.exec(text)) {
      const raw = m[0];
      const name = raw.charCodeAt(0) === 34 ? raw.slice(1, -1).replace(/""/g, '"') : raw;
      if (this.leaves.has(name.toLowerCase())) return true;
    }
    return false;
  }

  private stream(code: 'o' | 'i'): StreamMasker {
    let sm = this.streams.get(code);
    if (!sm) {
      sm = new StreamMasker(this.masker);
      this.streams.set(code, sm);
    }
    return sm;
  }

  private emit_(value: unknown): void {
    this.push(`${JSON.stringify(value)}\n`);
  }
}

/** Identifiers and quoted identifiers (strings and comments are scanned too: errs toward masking). */
const IDENT = /"(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/g;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
