import type { Kysely } from 'kysely';
import { revocationFromRow, revocationToRow } from './rows.js';
import type { Database } from './schema.js';
import type { Revocation } from './types.js';

export interface RevocationRepository {
  /**
   * Revokes a token id or a whole subject, of one issuer (or of any issuer when `issuer` is
   * absent). Revoking the same thing again keeps the first time and reason.
   */
  revoke(r: Revocation): Promise<void>;
  /**
   * True when the token id is revoked, or the subject is. A revocation naming an issuer covers
   * only `q.issuer`'s tokens; one without (stored before issuers were recorded) covers any. With
   * `issuedAt` (token `iat`, epoch ms), a subject revocation only covers tokens issued at or
   * before it, so the subject can sign in again with a fresh token.
   */
  isRevoked(q: { tokenId?: string; sub?: string; issuer?: string; issuedAt?: number }): Promise<boolean>;
  /** Newest first; `limit` defaults to 1000, `null` lists every one (the gateway's cache needs all). */
  listRevocations(q?: { limit?: number | null }): Promise<Revocation[]>;
}

export function revocationRepository(db: Kysely<Database>): RevocationRepository {
  return {
    async revoke(r) {
      await db
        .insertInto('revocations')
        .values(revocationToRow(r))
        .onConflict((oc) => oc.columns(['kind', 'issuer', 'value']).doNothing())
        .execute();
    },
    async isRevoked(q) {
      if (q.tokenId === undefined && q.sub === undefined) throw new TypeError('isRevoked needs tokenId or sub');
      const row = await db
        .selectFrom('revocations')
        .select('kind')
        .where((eb) => {
          const issuerMatches = q.issuer === undefined ? eb.lit(true) : eb('issuer', 'in', ['', q.issuer]);
          const ors = [];
          if (q.tokenId !== undefined) {
            ors.push(eb.and([eb('kind', '=', 'token'), eb('value', '=', q.tokenId), issuerMatches]));
          }
          if (q.sub !== undefined) {
            const bySub = [eb('kind', '=', 'sub'), eb('value', '=', q.sub), issuerMatches];
            if (q.issuedAt !== undefined) bySub.push(eb('at', '>=', q.issuedAt));
            ors.push(eb.and(bySub));
          }
          return eb.or(ors);
        })
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
    async listRevocations(q = {}) {
      let query = db.selectFrom('revocations').selectAll().orderBy('at', 'desc');
      if (q.limit !== null) query = query.limit(q.limit ?? 1000);
      const rows = await query.execute();
      return rows.map(revocationFromRow);
    },
  };
}
