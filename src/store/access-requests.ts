import type { Kysely } from 'kysely';
import { type Decide, decidableTable, type Transition } from './decidable.js';
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
  /** Read, decide, compare-and-set like transitionReview. */
  transitionAccessRequest(
    id: string,
    decide: Decide<AccessRequest, AccessRequestPatch>,
  ): Promise<Transition<AccessRequest> | undefined>;
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
  const t = decidableTable<'access_requests', AccessRequest, AccessRequestState, AccessRequestPatch>(db, {
    table: 'access_requests',
    toRow: accessRequestToRow,
    fromRow: accessRequestFromRow,
    patchToRow: accessRequestPatchToRow,
    owner: { sub: 'sub', issuer: 'issuer' },
  });
  return {
    insertAccessRequest: t.insert,
    getAccessRequest: t.get,
    updateAccessRequest: t.update,
    transitionAccessRequest: t.transition,
    listAccessRequests: t.list,
    // The latest-ending grant first.
    findApprovedAccessRequest: (q) => t.approvedFor(q, { orderBy: ['expires_at', 'desc'] }),
  };
}
