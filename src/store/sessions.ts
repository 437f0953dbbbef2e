import type { Kysely } from 'kysely';
import { sessionFromRow, sessionToRow } from './rows.js';
import type { Database } from './schema.js';
import type { NewSession, OwnerFilter, Session } from './types.js';

export interface SessionRepository {
  createSession(s: NewSession): Promise<Session>;
  /** Marks a session ended; `operations`, when given, replaces the stored count. */
  endSession(id: string, end: { at: number; reason?: string; operations?: number }): Promise<void>;
  incrementOperations(id: string, by?: number): Promise<void>;
  /** Newest first. A caller's own sessions: pass both `issuer` and `sub`. */
  listSessions(q?: { limit?: number } & OwnerFilter): Promise<Session[]>;
  getSession(id: string): Promise<Session | undefined>;
  /**
   * Sessions still open that no live process serves: those of the given (dead) instances, or
   * every open one when `all` (a store only one process uses). Marked ended; returned as they were.
   */
  closeOrphans(q: { instances: string[]; all: boolean; at: number; reason: string }): Promise<Session[]>;
}

export function sessionRepository(db: Kysely<Database>): SessionRepository {
  return {
    async createSession(s) {
      const session: Session = { ...s, endedAt: null, operations: s.operations ?? 0, endReason: null };
      await db.insertInto('sessions').values(sessionToRow(session)).execute();
      return session;
    },
    async endSession(id, end) {
      await db
        .updateTable('sessions')
        .set({
          ended_at: end.at,
          end_reason: end.reason ?? null,
          ...(end.operations === undefined ? {} : { operations: end.operations }),
        })
        .where('id', '=', id)
        .execute();
    },
    async incrementOperations(id, by = 1) {
      await db
        .updateTable('sessions')
        .set((eb) => ({ operations: eb('operations', '+', by) }))
        .where('id', '=', id)
        .execute();
    },
    async listSessions(q = {}) {
      const rows = await db
        .selectFrom('sessions')
        .selectAll()
        .$if(q.sub !== undefined, (qb) => qb.where('sub', '=', q.sub as string))
        .$if(q.issuer !== undefined, (qb) => qb.where('issuer', '=', q.issuer as string))
        .orderBy('started_at', 'desc')
        .orderBy('id', 'desc')
        .limit(q.limit ?? 100)
        .execute();
      return rows.map(sessionFromRow);
    },
    async closeOrphans(q) {
      if (!q.all && q.instances.length === 0) return [];
      const rows = await db
        .selectFrom('sessions')
        .selectAll()
        .where('ended_at', 'is', null)
        .$if(!q.all, (qb) => qb.where('instance', 'in', q.instances))
        .execute();
      if (rows.length === 0) return [];
      await db
        .updateTable('sessions')
        .set({ ended_at: q.at, end_reason: q.reason })
        .where('ended_at', 'is', null)
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows.map(sessionFromRow);
    },
    async getSession(id) {
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row && sessionFromRow(row);
    },
  };
}
