// Recordings kept in the store, as chunks: what one buffered flush of a session's recording
// wrote, keyed (session, seq). Reading joins them by seq: the same bytes a recording file holds.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Rows fetched per page while reading (a chunk is at most a few hundred KB). */
const PAGE_ROWS = 32;

export interface RecordingChunk {
  session_id: string;
  seq: number;
  data: Uint8Array;
}

/**
 * Inserts chunks (one statement). A chunk already stored under its (session, seq) is skipped:
 * a retry of a write that did commit carries the same bytes, and must not fail its batch.
 */
export async function insertRecordingChunks(db: Kysely<Database>, chunks: RecordingChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  await db
    .insertInto('recording_chunks')
    .values(chunks)
    .onConflict((oc) => oc.columns(['session_id', 'seq']).doNothing())
    .execute();
}

/** The session's chunks in order, a page of rows at a time (recordings can be large). */
export async function* readRecordingChunks(db: Kysely<Database>, session: string): AsyncGenerator<Buffer> {
  let after = -1;
  for (;;) {
    const rows = await db
      .selectFrom('recording_chunks')
      .select(['seq', 'data'])
      .where('session_id', '=', session)
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(PAGE_ROWS)
      .execute();
    for (const r of rows) yield Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    if (rows.length < PAGE_ROWS) return;
    after = Number(rows[rows.length - 1]!.seq);
  }
}
