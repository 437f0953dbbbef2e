import type { Kysely } from 'kysely';
import { reviewFromRow, reviewPatchToRow, reviewToRow } from './rows.js';
import type { Database } from './schema.js';
import type { OwnerFilter, PrincipalLookup, Review, ReviewPatch, ReviewState } from './types.js';

export interface ReviewRepository {
  insertReview(r: Review): Promise<Review>;
  getReview(id: string): Promise<Review | undefined>;
  /**
   * Applies a patch. With `expectState`, only if the review is still in that state (compare
   * and set, so two gateway instances cannot both decide one review). Returns the updated
   * review, or undefined when no row matched.
   */
  updateReview(id: string, patch: ReviewPatch, opts?: { expectState?: ReviewState }): Promise<Review | undefined>;
  /** Newest first. */
  listReviews(q?: { state?: ReviewState; limit?: number } & OwnerFilter): Promise<Review[]>;
  /** An approved review of exactly this operation for this principal, unexpired and with uses left. */
  findApprovedReview(
    q: PrincipalLookup & { connection: string; opHash: string; now: number },
  ): Promise<Review | undefined>;
  /**
   * Atomically takes one use of an approved review; the last use moves it to `executed`.
   * False when it was already used up, expired or not approved.
   */
  consumeReviewUse(id: string, now: number): Promise<boolean>;
}

export function reviewRepository(db: Kysely<Database>): ReviewRepository {
  const get = async (id: string): Promise<Review | undefined> => {
    const row = await db.selectFrom('reviews').selectAll().where('id', '=', id).executeTakeFirst();
    return row && reviewFromRow(row);
  };
  return {
    async insertReview(r) {
      await db.insertInto('reviews').values(reviewToRow(r)).execute();
      return r;
    },
    getReview: get,
    async updateReview(id, patch, opts = {}) {
      const row = reviewPatchToRow(patch);
      if (Object.keys(row).length > 0) {
        const res = await db
          .updateTable('reviews')
          .set(row)
          .where('id', '=', id)
          .$if(opts.expectState !== undefined, (qb) => qb.where('state', '=', opts.expectState as ReviewState))
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) return undefined;
      }
      return get(id);
    },
    async listReviews(q = {}) {
      const rows = await db
        .selectFrom('reviews')
        .selectAll()
        .$if(q.state !== undefined, (qb) => qb.where('state', '=', q.state as ReviewState))
        .$if(q.sub !== undefined, (qb) => qb.where('requester_sub', '=', q.sub as string))
        .$if(q.issuer !== undefined, (qb) => qb.where('requester_issuer', '=', q.issuer as string))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(q.limit ?? 100)
        .execute();
      return rows.map(reviewFromRow);
    },
    async findApprovedReview(q) {
      if (q.issuer === '') return undefined; // an unknown issuer is nobody's principal
      const row = await db
        .selectFrom('reviews')
        .selectAll()
        .where('requester_issuer', '=', q.issuer)
        .where('requester_sub', '=', q.sub)
        .where('connection', '=', q.connection)
        .where('op_hash', '=', q.opHash)
        .where('state', '=', 'approved')
        .where('uses_left', '>', 0)
        .where('expires_at', '>', q.now)
        .orderBy('decided_at', 'asc')
        .executeTakeFirst();
      return row && reviewFromRow(row);
    },
    async consumeReviewUse(id, now) {
      const res = await db
        .updateTable('reviews')
        .set((eb) => ({
          uses_left: eb('uses_left', '-', 1),
          state: eb.case().when('uses_left', '<=', 1).then('executed').else('approved').end(),
        }))
        .where('id', '=', id)
        .where('state', '=', 'approved')
        .where('uses_left', '>', 0)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
  };
}
