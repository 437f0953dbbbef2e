// Reads a recording back, tolerating a last line cut short by a crash.
import { WardenError } from '../core/errors.js';
import { type RecordingReadOptions, readRecordingBytes } from './source.js';
import type { AsciicastEvent, AsciicastHeader, RecordedEvent, Recording } from './types.js';

function isAsciicastHeader(v: unknown): v is AsciicastHeader {
  return typeof v === 'object' && v !== null && (v as { version?: unknown }).version === 2 && 'width' in v;
}

/** The recording at `path` (a file, or chunks in the store given `opts.db`), parsed. */
export async function readRecording(path: string, opts: RecordingReadOptions = {}): Promise<Recording> {
  const text = (await readRecordingBytes(path, opts)).toString('utf8');
  const lines = text.split('\n');
  const values: unknown[] = [];
  let truncated = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!isLast) {
        throw new WardenError('WARDEN_USAGE', `recording ${path} is corrupt at line ${i + 1}`, {
          detail: { path, line: i + 1 },
        });
      }
      truncated = true;
    }
  }
  const first = values[0];
  if (isAsciicastHeader(first) || (values.length === 0 && path.endsWith('.cast'))) {
    if (!isAsciicastHeader(first)) {
      throw new WardenError('WARDEN_USAGE', `recording ${path} has no asciicast header`, { detail: { path } });
    }
    const events = values
      .slice(1)
      .filter((v): v is AsciicastEvent => Array.isArray(v) && v.length >= 3 && typeof v[0] === 'number');
    return { format: 'asciicast', header: first, events, truncated };
  }
  const events = values.filter((v): v is RecordedEvent => typeof v === 'object' && v !== null && !Array.isArray(v));
  return { format: 'jsonl', events, truncated };
}
