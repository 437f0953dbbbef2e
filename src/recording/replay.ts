// Plays a terminal recording's output at recorded speed (scaled by `speed`), scheduling
// against the start time so delays do not drift.
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { WardenError } from '../core/errors.js';
import { readRecording } from './read.js';
import type { RecordingReadOptions } from './source.js';

export interface ReplayOptions {
  /** Playback speed multiplier; 2 plays twice as fast. Default 1. */
  speed?: number;
  /** Longest pause, in recorded seconds, kept between two outputs. */
  maxIdle?: number;
  signal?: AbortSignal;
  /** Where a recording kept in the store is read from. */
  db?: RecordingReadOptions['db'];
}

export async function replayAsciicast(
  path: string,
  out: NodeJS.WritableStream,
  opts: ReplayOptions = {},
): Promise<void> {
  const speed = opts.speed ?? 1;
  if (!(speed > 0) || !Number.isFinite(speed)) throw new TypeError('speed must be a positive number');
  if (opts.maxIdle !== undefined && !(opts.maxIdle >= 0)) throw new TypeError('maxIdle must be >= 0');
  const rec = await readRecording(path, { db: opts.db });
  if (rec.format !== 'asciicast') {
    throw new WardenError('WARDEN_USAGE', 'this session is not a terminal recording; print its timeline instead');
  }
  const start = performance.now();
  let recorded = 0;
  let prev = 0;
  for (const [t, code, data] of rec.events) {
    if (code !== 'o') continue;
    let gap = Math.max(0, t - prev);
    prev = Math.max(prev, t);
    if (opts.maxIdle !== undefined) gap = Math.min(gap, opts.maxIdle);
    recorded += gap;
    const wait = start + (recorded * 1000) / speed - performance.now();
    if (wait > 0) await sleep(wait, undefined, { signal: opts.signal });
    opts.signal?.throwIfAborted();
    if (!out.write(data)) await once(out as NodeJS.EventEmitter, 'drain', { signal: opts.signal });
  }
}
