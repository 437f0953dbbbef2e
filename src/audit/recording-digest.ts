// A recording's digest (sha256 of its bytes: the file's, or its store chunks' joined) is audited
// when its session closes, so a recording edited afterwards no longer matches the (hash-chained)
// entry. The bytes come from the recording reader (src/recording/source.ts) given as `open`.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';

export const RECORDING_DIGEST_TYPE = 'recording.digest';

export interface RecordingDigest {
  sha256: string;
  bytes: number;
}

/** Streams the file (recordings can be large); rejects when it cannot be read. */
export function digestFile(path: string): Promise<RecordingDigest> {
  return digestStream(createReadStream(path));
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
  const open = opts.open ?? ((p: string) => createReadStream(p));
  for (const e of entries) {
    const path = opts.dir ? join(opts.dir, basename(e.file)) : (e.path ?? e.file);
    const found = await digestStream(open(path)).catch(() => undefined);
    if (!found) {
      out.missing.push({ seq: e.seq, session: e.session, path });
      continue;
    }
    out.checked++;
    if (found.sha256 !== e.sha256) out.edited.push({ seq: e.seq, session: e.session, path });
  }
  return out;
}
