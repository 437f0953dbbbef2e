import type { Kysely } from 'kysely';
import { accessRequestFromRow, accessRequestPatchToRow, accessRequestToRow } from './rows.js';
import type { Database } from './schema.js';
import type { AccessRequest, AccessRequestPatch, AccessRequestState, OwnerFilter, PrincipalLookup } from './types.js';

export interface AccessRequestRepository {
  insertAccessRequest(a: AccessRequest): Promise<AccessRequest>;
  getAccessRequest(id: string): Promise<AccessRequest | undefined>;
  /** Compare-and-set like updateReview. */
  updateAccessRequest(
    id: string,
    patch: AccessRequestPatch,
    opts?: { expectState?: AccessRequestState },
  ): Promise<AccessRequest | undefined>;
  /** Newest first. */
  listAccessRequests(
    q?: { state?: AccessRequestState; connection?: string; limit?: number } & OwnerFilter,
  ): Promise<AccessRequest[]>;
  /** The approved, unexpired grant of this principal for this connection (latest-ending first). */
  findApprovedAccessRequest(
    q: PrincipalLookup & { connection: string; now: number },
  ): Promise<AccessRequest | undefined>;
}

export function accessRequestRepository(db: Kysely<Database>): AccessRequestRepository {
  const get = async (id: string): Promise<AccessRequest | undefined> => {
    const row = await db.selectFrom('access_requests').selectAll().where('id', '=', id).executeTakeFirst();
    return row && accessRequestFromRow(row);
  };
  return {
    async insertAccessRequest(a) {
      await db.insertInto('access_requests').values(accessRequestToRow(a)).execute();
      return a;
    },
    getAccessRequest: get,
    async updateAccessRequest(id, patch, opts = {}) {
      const row = accessRequestPatchToRow(patch);
      if (Object.keys(row).length > 0) {
        const res = await db
          .updateTable('access_requests')
          .set(row)
          .where('id', '=', id)
          .$if(opts.expectState !== undefined, (qb) => qb.where('state', '=', opts.expectState as AccessRequestState))
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) === 0) return undefined;
      }
      return get(id);
    },
    async listAccessRequests(q = {}) {
      const rows = await db
        .selectFrom('access_requests')
        .selectAll()
        .$if(q.state !== undefined, (qb) => qb.where('state', '=', q.state as AccessRequestState))
        .$if(q.sub !== undefined, (qb) => qb.where('sub', '=', q.sub as string))
        .$if(q.issuer !== undefined, (qb) => qb.where('issuer', '=', q.issuer as string))
        .$if(q.connection !== undefined, (qb) => qb.where('connection', '=', q.connection as string))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(q.limit ?? 100)
        .execute();
      return rows.map(accessRequestFromRow);
    },
    async findApprovedAccessRequest(q) {
      if (q.issuer === '') return undefined; // an unknown issuer is nobody's principal
      const row = await db
        .selectFrom('access_requests')
        .selectAll()
        .where('issuer', '=', q.issuer)
        .where('sub', '=', q.sub)
        .where('connection', '=', q.connection)
        .where('state', '=', 'approved')
        .where('expires_at', '>', q.now)
        .orderBy('expires_at', 'desc')
        .executeTakeFirst();
      return row && accessRequestFromRow(row);
    },
  };
}
