import type { DetectorName, MaskPlan } from '../core/types.js';
import { ALWAYS_MASKED_SOURCES, ColumnMatcher } from './columns.js';
import { DETECTOR_NAMES, type Detector, detectorsFor } from './detectors/index.js';
import { type JsonMaskContext, maskJsonTextWith, maskJsonValue } from './json.js';
import { MatchSet } from './matches.js';
import { MASKED_NON_TEXT, redactWhole } from './redact.js';
import { redactWholeInto } from './redact-bytes.js';
import { scanBytes, scanString } from './scan.js';

export interface MaskJsonOptions {
  /** Extra key names to redact like masked columns (compared lower-case). */
  keys?: readonly string[];
}

/**
 * A compiled MaskPlan. Stateless between calls (one reused scratch MatchSet; JS runs one call
 * at a time), so one instance serves every session with the same plan.
 */
export class Masker {
  /** False for an empty plan: callers skip masking entirely. */
  readonly active: boolean;
  /** The normalized plan (lower-case columns, sorted, unique). */
  readonly plan: Readonly<MaskPlan>;
  /** What a masked non-text value (number, date, bytea, …) becomes: callers send NULL. */
  readonly maskedNonText = MASKED_NON_TEXT;
  /** Content detectors are on (terminal streams need masking only then). */
  readonly detects: boolean;
  /** The `secret` detector is on. */
  readonly detectsSecrets: boolean;

  private readonly detectors: readonly Detector[];
  private readonly guard: number;
  private readonly columns: ColumnMatcher;
  private readonly matches = new MatchSet();
  private readonly json: JsonMaskContext;

  constructor(plan: MaskPlan) {
    this.plan = plan;
    this.detectors = detectorsFor(plan.detect);
    let guard = 0;
    for (const d of this.detectors) guard |= d.guard;
    this.guard = guard;
    // An active plan also masks other sessions' SQL text (see ALWAYS_MASKED_SOURCES); an empty
    // plan stays empty, so unmasked identities see it.
    const planActive = plan.columns.length > 0 || plan.detect.length > 0;
    this.columns = new ColumnMatcher(plan.columns, planActive ? ALWAYS_MASKED_SOURCES : []);
    this.detects = this.detectors.length > 0;
    this.detectsSecrets = plan.detect.includes('secret');
    this.active = this.detects || this.columns.size > 0;
    const columns = this.columns;
    this.json = {
      maskText: (v) => this.maskText(v),
      redactColumnValue: redactWhole,
      keyIsMasked: (key, extra) => columns.matchesKey(key) || extra?.has(key.toLowerCase()) === true,
      maskSecretKeys: this.detectsSecrets,
    };
  }

  /** True when a JSON object key names a masked column (case-insensitive; streaming JSON masking). */
  jsonKeyIsMasked(key: string): boolean {
    return this.columns.matchesKey(key);
  }

  /** True when any of the names of one source column (lower-case; bare or qualified) is masked. */
  columnIsMasked(names: readonly string[]): boolean {
    return this.columns.matches(names);
  }

  /** Some source column is masked by name (the plan's `columns`, or other sessions' SQL text). */
  get masksColumns(): boolean {
    return this.columns.size > 0;
  }

  /** A column-lineage source (`[schema.]table.column` or `[schema.]table.*`) is masked. */
  sourceIsMasked(source: string): boolean {
    return this.columns.matchesSource(source);
  }

  /** Text with every detected value redacted; the same string instance when nothing matched. */
  maskText(value: string): string {
    if (this.guard === 0) return value;
    const flags = scanString(value);
    if ((flags & this.guard) === 0) return value;
    return this.run(value, flags);
  }

  /**
   * maskText over UTF-8 bytes `buf[start, end)`: null when nothing needs masking (decided on the
   * bytes, without decoding), else the masked text's bytes.
   */
  maskTextMaybe(buf: Buffer, start = 0, end: number = buf.length): Buffer | null {
    const masked = this.maskTextOf(buf, start, end);
    return masked === null ? null : Buffer.from(masked, 'utf8');
  }

  /** maskTextMaybe, answering the masked text itself (callers writing it into their own buffer). */
  maskTextOf(buf: Buffer, start: number, end: number): string | null {
    if (this.guard === 0) return null;
    const flags = scanBytes(buf, start, end);
    if ((flags & this.guard) === 0) return null;
    const text = buf.toString('utf8', start, end);
    const masked = this.run(text, flags);
    return masked === text ? null : masked;
  }

  /**
   * A value of a column masked by name: the detector-style partial form when the whole value is
   * an email, card, SSN, IBAN or phone number (`j***@example.com`, `***-**-6789`), else `***`.
   */
  redactColumnValue(value: string): string {
    return redactWhole(value);
  }

  /**
   * redactColumnValue of the UTF-8 bytes `src[start, start + n)`, written at `dst[o]` (room for
   * n + 3 bytes): its length, or -1 when the value needs redactColumnValue (see redact-bytes.ts).
   */
  redactColumnInto(src: Uint8Array, start: number, n: number, dst: Uint8Array, o: number): number {
    return redactWholeInto(src, start, n, dst, o);
  }

  /** redactColumnValue over UTF-8 bytes. */
  redactColumnBytes(buf: Buffer, start = 0, end: number = buf.length): Buffer {
    return Buffer.from(redactWhole(buf.toString('utf8', start, end)), 'utf8');
  }

  /**
   * A JSON value (as from JSON.parse), deep: values under keys naming a masked column are
   * redacted (text → partial, other → null; a key matches a configured column's last segment,
   * since JSON has no table), values under secret keys (`password`, `api_key`, …) are replaced
   * when `secret` is on, strings and keys go through the detectors. Unchanged → same instance.
   */
  maskJson(value: unknown, opts?: MaskJsonOptions): unknown {
    if (!this.active) return value;
    const extra = opts?.keys && opts.keys.length > 0 ? new Set(opts.keys.map((k) => k.toLowerCase())) : null;
    return maskJsonValue(this.json, value, extra);
  }

  /** JSON text (e.g. a `row_to_json` cell): parse, maskJson, re-serialize; not JSON → maskText. */
  maskJsonText(text: string): string {
    if (!this.active) return text;
    return maskJsonTextWith(this.json, text, this.columns.size > 0);
  }

  private run(text: string, flags: number): string {
    const m = this.matches;
    m.reset(text);
    for (const d of this.detectors) if ((flags & d.guard) !== 0) d.find(text, flags, m);
    return m.apply();
  }
}

const cache = new Map<string, Masker>();
const CACHE_LIMIT = 512;
const KNOWN = new Set<string>(DETECTOR_NAMES);

// Policy hands out the same (frozen) plan object for the same identity groups and connection,
// so the per-operation lookup is usually this identity hit rather than a normalize-and-key.
const byPlan = new WeakMap<MaskPlan, Masker>();

/** The Masker for a plan; the same plan content always gives the same instance. */
export function compileMasker(plan: MaskPlan | null): Masker {
  if (plan !== null) {
    const hit = byPlan.get(plan);
    if (hit !== undefined) return hit;
    const masker = compileByContent(plan);
    byPlan.set(plan, masker);
    return masker;
  }
  return compileByContent(plan);
}

function compileByContent(plan: MaskPlan | null): Masker {
  const columns = [...new Set((plan?.columns ?? []).map((c) => c.trim().toLowerCase()).filter((c) => c !== ''))].sort();
  const detect = [...new Set(plan?.detect ?? [])].sort();
  for (const d of detect) if (!KNOWN.has(d)) throw new TypeError(`unknown masking detector: ${String(d)}`);
  const key = columns.join('\n') + '\0' + detect.join(',');
  let masker = cache.get(key);
  if (masker === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    masker = new Masker({ columns, detect: detect as DetectorName[] });
    cache.set(key, masker);
  }
  return masker;
}
