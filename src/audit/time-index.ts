// Finding audit entries by time without an index on `at`. An index is a second B-tree, and
// every group commit then writes two WAL frames instead of one: measured on the development
// machine, a one-entry SQLite commit 83 → 57 µs without it (the audit commit is on every
// statement's path). Instead `audit_log_times` holds one row per 10-second bucket in which the
// newest `at` written so far first moved: (bucket, first_seq) = "from first_seq on, the log has
// reached this bucket". Rows are added only when the maximum grows, so once per bucket under
// load, and never for a clock that steps back.
//
// Exact, whatever the clocks do: an entry with at >= since was written when the maximum bucket
// already was (or became, by that very entry) >= bucket(since), so some row with bucket >=
// bucket(since) has first_seq <= that entry's seq. Reading from the smallest such first_seq and
// filtering on `at` therefore misses nothing.
import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';

export const BUCKET_MS = 10_000;

export function bucketOf(at: number): number {
  return Math.floor(at / BUCKET_MS);
}

/**
 * The smallest seq an entry at or after `since` can have, or undefined when no entry is that
 * recent. Callers still filter on `at >= since`.
 */
export async function seqLowerBound(db: Kysely<Database>, since: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('audit_log_times')
    .select('first_seq')
    .where('bucket', '>=', bucketOf(since))
    .orderBy('bucket', 'asc')
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.first_seq) : undefined;
}

/** Whether any of the n entries is in a later bucket than `known` (the writer must then read the table's). */
export function reachesPast(known: number, n: number, atOf: (i: number) => number): boolean {
  for (let i = 0; i < n; i++) if (bucketOf(atOf(i)) > known) return true;
  return false;
}

export interface BucketRow {
  bucket: number;
  first_seq: number;
}

/**
 * The audit_log_times rows a batch of n entries adds, given `known`, the largest bucket in the
 * table (read inside the batch's write lock), and each entry's `at` and seq in order; with the
 * new largest bucket.
 */
export function newBuckets(
  known: number,
  n: number,
  atOf: (i: number) => number,
  seqOf: (i: number) => number,
): { rows: BucketRow[]; max: number } {
  const rows: BucketRow[] = [];
  let max = known;
  for (let i = 0; i < n; i++) {
    const b = bucketOf(atOf(i));
    if (b > max) {
      rows.push({ bucket: b, first_seq: seqOf(i) });
      max = b;
    }
  }
  return { rows, max };
}
