import type { Kysely } from 'kysely';
import { type Decide, decidableTable, type Transition } from './decidable.js';
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
  /** Read, decide, compare-and-set on state and approvals, retried on a lost race (see DecidableTable). */
  transitionReview(id: string, decide: Decide<Review, ReviewPatch>): Promise<Transition<Review> | undefined>;
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
  const t = decidableTable<'reviews', Review, ReviewState, ReviewPatch>(db, {
    table: 'reviews',
    toRow: reviewToRow,
    fromRow: reviewFromRow,
    patchToRow: reviewPatchToRow,
    owner: { sub: 'requester_sub', issuer: 'requester_issuer' },
  });
  return {
    insertReview: t.insert,
    getReview: t.get,
    updateReview: t.update,
    transitionReview: t.transition,
    listReviews: t.list,
    findApprovedReview: ({ opHash, ...q }) =>
      t.approvedFor(q, {
        where: [
          ['op_hash', '=', opHash],
          ['uses_left', '>', 0],
        ],
        orderBy: ['decided_at', 'asc'],
      }),
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
