// Walks the chain in seq order, a page at a time, and names the first entry that fails.
import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import { chainHash, GENESIS_HASH } from './chain.js';

export type VerifyFailure = 'hash-mismatch' | 'broken-link' | 'missing' | 'reordered';

export interface VerifyResult {
  ok: boolean;
  /** Entries that verified before the first failure (all of them when ok). */
  checked: number;
  /**
   * The first entry that fails. `missing`: the entry right after a gap in seq (rows before it
   * were deleted). `reordered`: its link points at an entry that sits elsewhere in the log.
   * `broken-link`: its link points at no entry (an entry before it was rewritten or removed
   * and renumbered). `hash-mismatch`: its own fields were edited.
   */
  firstBad?: { seq: number; id: string; reason: VerifyFailure };
}

const PAGE = 1000;

export async function verifyChain(db: Kysely<Database>): Promise<VerifyResult> {
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let checked = 0;
  for (;;) {
    const rows = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>=', expectedSeq)
      .orderBy('seq', 'asc')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      const seq = Number(row.seq);
      const bad = (reason: VerifyFailure): VerifyResult => ({
        ok: false,
        checked,
        firstBad: { seq, id: row.id, reason },
      });
      if (seq !== expectedSeq) return bad('missing');
      const fields = {
        id: row.id,
        at: Number(row.at),
        type: row.type,
        actor: row.actor,
        session: row.session,
        connection: row.connection,
      };
      if (chainHash(row.prev_hash, fields, row.data) !== row.hash) return bad('hash-mismatch');
      if (row.prev_hash !== prev) {
        const linked = await db
          .selectFrom('audit_log')
          .select('seq')
          .where('hash', '=', row.prev_hash)
          .executeTakeFirst();
        return bad(linked ? 'reordered' : 'broken-link');
      }
      prev = row.hash;
      expectedSeq++;
      checked++;
    }
    if (rows.length < PAGE) return { ok: true, checked };
  }
}
