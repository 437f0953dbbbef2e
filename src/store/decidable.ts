// Reviews and access requests are the same kind of row: pending until N approvers decide, then
// approved / denied / expired (…). One generic table serves both: insert, read, list, and the
// compare-and-set that lets only one gateway instance move an item from the state it read.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { OwnerFilter, PrincipalLookup } from './types.js';

/** The tables holding decidable items. */
export type DecidableTableName = 'reviews' | 'access_requests';

/** What a CAS compares: the state, and (read by `transition`) the approvals as stored, byte for byte. */
export interface CasExpectation<S extends string> {
  expectState?: S;
  /** Raw `approvals` column text: a concurrent approval of an N-of-M item changes it, so it is not lost. */
  expectApprovals?: string;
}

/** One item as read, and as the change that took effect left it (that read plus the patch). */
export interface Transition<T> {
  before: T;
  after: T;
}

/**
 * Decides the change to make to the current item: a patch, or null for none. Called again with
 * the fresh item when another writer changed it meanwhile; may throw to refuse.
 */
export type Decide<T, P> = (current: T) => P | null;

/** Narrows `approvedFor` (a review: its operation hash and uses left) and orders the matches, first wins. */
export interface ApprovedNarrowing<C extends string> {
  where?: Array<[column: C, op: '=' | '>', value: string | number]>;
  orderBy: [column: C, direction: 'asc' | 'desc'];
}

export interface DecidableTable<T, S extends string, P, C extends string = string> {
  insert(item: T): Promise<T>;
  get(id: string): Promise<T | undefined>;
  /** Applies a patch, only if the row still matches the expectation. Undefined when no row matched. */
  update(id: string, patch: P, opts?: CasExpectation<S>): Promise<T | undefined>;
  /** Newest first. */
  list(q?: { state?: S; connection?: string; limit?: number } & OwnerFilter): Promise<T[]>;
  /**
   * Read, decide, compare-and-set, retried on a lost race: the change applies to exactly the
   * item `decide` saw. Undefined when there is no such row or `decide` returned null.
   */
  transition(id: string, decide: Decide<T, P>): Promise<Transition<T> | undefined>;
  /** The approved, unexpired item of exactly this principal for this connection (what an approval grants). */
  approvedFor(
    q: PrincipalLookup & { connection: string; now: number },
    narrow: ApprovedNarrowing<C>,
  ): Promise<T | undefined>;
}

export interface DecidableSpec<N extends DecidableTableName, T, P> {
  table: N;
  toRow(item: T): Database[N];
  fromRow(row: Database[N]): T;
  patchToRow(patch: P): Partial<Database[N]>;
  /** Columns holding the requester's principal. */
  owner: { sub: keyof Database[N] & string; issuer: keyof Database[N] & string };
}

/** Every decidable table has these columns; the generic queries use only them (and the spec's). */
interface DecidableRow {
  id: string;
  state: string;
  approvals: string;
  connection: string;
  created_at: number;
  expires_at: number;
}

/** A lost race means another writer made progress; more than this many in a row is not contention but a fault. */
const MAX_CAS_ATTEMPTS = 16;

export function decidableTable<N extends DecidableTableName, T, S extends string, P>(
  database: Kysely<Database>,
  spec: DecidableSpec<N, T, P>,
): DecidableTable<T, S, P, keyof Database[N] & string> {
  // Typed as a table of the common columns: both tables have them, under the same names.
  const db = database as unknown as Kysely<Record<string, DecidableRow>>;
  const table = spec.table as string;
  const fromRow = (row: unknown) => spec.fromRow(row as Database[N]);

  const readRow = (id: string) => db.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst();
  const get = async (id: string) => {
    const row = await readRow(id);
    return row && fromRow(row);
  };

  /** Applies the patch; false when the row no longer matches (or does not exist). */
  const setIf = async (id: string, patch: P, expect: CasExpectation<S>): Promise<boolean> => {
    const row = spec.patchToRow(patch) as Partial<DecidableRow>;
    if (Object.keys(row).length === 0) return (await readRow(id)) !== undefined;
    const res = await db
      .updateTable(table)
      .set(row)
      .where('id', '=', id)
      .$if(expect.expectState !== undefined, (qb) => qb.where('state', '=', expect.expectState as string))
      .$if(expect.expectApprovals !== undefined, (qb) => qb.where('approvals', '=', expect.expectApprovals as string))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  };

  return {
    async insert(item) {
      await db
        .insertInto(table)
        .values(spec.toRow(item) as unknown as DecidableRow)
        .execute();
      return item;
    },
    get,
    async update(id, patch, opts = {}) {
      return (await setIf(id, patch, opts)) ? get(id) : undefined;
    },
    async list(q = {}) {
      const rows = await db
        .selectFrom(table)
        .selectAll()
        .$if(q.state !== undefined, (qb) => qb.where('state', '=', q.state as string))
        .$if(q.sub !== undefined, (qb) => qb.where(db.dynamic.ref(spec.owner.sub), '=', q.sub as string))
        .$if(q.issuer !== undefined, (qb) => qb.where(db.dynamic.ref(spec.owner.issuer), '=', q.issuer as string))
        .$if(q.connection !== undefined, (qb) => qb.where('connection', '=', q.connection as string))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(q.limit ?? 100)
        .execute();
      return rows.map(fromRow);
    },
    async transition(id, decide) {
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const row = await readRow(id);
        if (!row) return undefined;
        const before = fromRow(row);
        const patch = decide(before);
        if (patch === null) return undefined;
        const expect = { expectState: row.state as S, expectApprovals: row.approvals };
        // Not read back: a later change by another writer is not this transition's outcome.
        if (await setIf(id, patch, expect)) return { before, after: { ...before, ...patch } };
      }
      throw new Error(`${spec.table} ${id}: changed concurrently ${MAX_CAS_ATTEMPTS} times in a row`);
    },
    async approvedFor(q, narrow) {
      if (q.issuer === '') return undefined; // an unknown issuer is nobody's principal
      const ref = db.dynamic.ref;
      let qb = db
        .selectFrom(table)
        .selectAll()
        .where(ref(spec.owner.issuer), '=', q.issuer)
        .where(ref(spec.owner.sub), '=', q.sub)
        .where('connection', '=', q.connection)
        .where('state', '=', 'approved')
        .where('expires_at', '>', q.now);
      for (const [column, op, value] of narrow.where ?? []) qb = qb.where(ref(column), op, value);
      const row = await qb.orderBy(ref(narrow.orderBy[0]), narrow.orderBy[1]).executeTakeFirst();
      return row && fromRow(row);
    },
  };
}
