// A recording's digest (sha256 of its bytes: the file's, or its store chunks' joined) is audited
// when its session closes, so a recording edited afterwards no longer matches the (hash-chained)
// entry. The bytes come from the recording reader (src/recording/source.ts) given as `open`.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';

export const RECORDING_DIGEST_TYPE = 'recording.digest';

export interface RecordingDigest {
  sha256: string;
  bytes: number;
}

/** The most read at a time (recordings can be large). */
const DIGEST_CHUNK = 64 * 1024;

/**
 * The file's digest, read through one buffer sized to it (at most DIGEST_CHUNK); rejects when it
 * cannot be read. A read stream would allocate a fresh 64 KiB chunk per read, two for the few
 * hundred bytes of an idle session's recording: a thousand sessions closing at once left ~100 MB
 * of garbage buffers, and the malloc arena they came from stayed grown afterwards.
 */
export async function digestFile(path: string): Promise<RecordingDigest> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    // One byte more than the file: its whole content and the end in one read when it is small.
    const buf = Buffer.allocUnsafe(Math.min(size + 1, DIGEST_CHUNK));
    const hash = createHash('sha256');
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, buf.length, bytes);
      if (bytesRead === 0) break;
      hash.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { sha256: hash.digest('hex'), bytes };
  } finally {
    await file.close();
  }
}

/** The digest of everything `source` yields; rejects when it errors. */
export function digestStream(source: Readable): Promise<RecordingDigest> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    source
      .on('data', (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      })
      .on('error', reject)
      .on('end', () => resolve({ sha256: hash.digest('hex'), bytes }));
  });
}

export interface DigestEntry {
  seq: number;
  session: string | null;
  /** The recording's file name (the audit log holds no server paths: it is served by the API). */
  file: string;
  /** Where the file is, when known (the session row's recording path). */
  path?: string;
  sha256: string;
}

export interface RecordingCheck {
  checked: number;
  /** Recordings whose bytes no longer match their audited digest. */
  edited: { seq: number; session: string | null; path: string }[];
  /** Recordings that could not be read where they were looked for. */
  missing: { seq: number; session: string | null; path: string }[];
}

/**
 * Checks each audited digest against the recording. `dir`: look for the files by name there (a
 * copy of the recordings taken elsewhere) instead of at the path the gateway wrote (`path`).
 * `open`: how a recording path is read (default: as a file).
 */
export async function checkRecordings(
  entries: DigestEntry[],
  opts: { dir?: string; open?: (path: string) => Readable } = {},
): Promise<RecordingCheck> {
  const out: RecordingCheck = { checked: 0, edited: [], missing: [] };
  const reader = opts.open;
  for (const e of entries) {
    const path = opts.dir ? join(opts.dir, basename(e.file)) : (e.path ?? e.file);
    const found = await (reader ? digestStream(reader(path)) : digestFile(path)).catch(() => undefined);
    if (!found) {
      out.missing.push({ seq: e.seq, session: e.session, path });
      continue;
    }
    out.checked++;
    if (found.sha256 !== e.sha256) out.edited.push({ seq: e.seq, session: e.session, path });
  }
  return out;
}
