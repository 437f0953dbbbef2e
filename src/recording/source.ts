// Where a recording's bytes are, and the one way to read them. A session row's recording path is
// either a file path (recordingStore: files) or `store:<session>.<ext>` (recordingStore:
// database: chunks in the store, readable by every gateway instance sharing it). Every reader —
// the API, replay, the timeline, the digest audited at close and at crash recovery, `warden audit
// verify` — opens recordings here, so a chunked recording reads byte for byte as a file would.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import { WardenError } from '../core/errors.js';
import { type Database, readRecordingChunks } from '../store/index.js';

/** Recording paths of recordings kept in the store start with this (file paths are absolute). */
export const STORE_RECORDING_PREFIX = 'store:';

/** Where recordings are written: a file per session, or chunks in the store. */
export type RecordingStoreKind = 'files' | 'database';

/** A recording's name: `<session>.jsonl` or `<session>.cast` (asciicast). */
export function recordingFileName(session: string, format: 'jsonl' | 'asciicast'): string {
  return `${session}.${format === 'jsonl' ? 'jsonl' : 'cast'}`;
}

/** The recording path a store-kept recording of `session` gets. */
export function storeRecordingPath(session: string, format: 'jsonl' | 'asciicast'): string {
  return `${STORE_RECORDING_PREFIX}${recordingFileName(session, format)}`;
}

export function isStoreRecording(path: string): boolean {
  return path.startsWith(STORE_RECORDING_PREFIX);
}

/** The session a store recording path names. */
function storeSession(path: string): string {
  return path.slice(STORE_RECORDING_PREFIX.length).replace(/\.(jsonl|cast)$/, '');
}

/** The recording's name as the API and the audit log show it (a file name; never a server path). */
export function recordingName(path: string): string {
  return isStoreRecording(path) ? path.slice(STORE_RECORDING_PREFIX.length) : basename(path);
}

/** Where to read store-kept recordings from (the store's database; read-only will do). */
export interface RecordingReadOptions {
  db?: Kysely<Database> | undefined;
}

/** The recording's bytes as a stream. A store recording needs `db`; without it, the stream errors. */
export function openRecording(path: string, opts: RecordingReadOptions = {}): Readable {
  if (!isStoreRecording(path)) return createReadStream(path);
  const db = opts.db;
  if (!db) {
    const r = new Readable({ read() {} });
    process.nextTick(() =>
      r.destroy(new WardenError('WARDEN_USAGE', `recording ${path} is kept in the store: no store to read it from`)),
    );
    return r;
  }
  return Readable.from(readRecordingChunks(db, storeSession(path)), { objectMode: false });
}

/** The recording's bytes, whole (for parsing; streaming readers use openRecording). */
export async function readRecordingBytes(path: string, opts: RecordingReadOptions = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of openRecording(path, opts)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
