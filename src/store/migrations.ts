// Schema migrations, in code, one list for both dialects. Append new migrations; never edit
// one that has shipped.
import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import { newBuckets } from '../audit/time-index.js';
import type { Database } from './schema.js';
import type { StoreDialect } from './types.js';

function initial(dialect: StoreDialect): Migration {
  // SQLite: `integer primary key` makes seq the rowid (no second index). PostgreSQL: bigint.
  const seqType = dialect === 'sqlite' ? 'integer' : 'bigint';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', seqType, (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('actor', 'text')
        .addColumn('session', 'text')
        .addColumn('connection', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();

      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('connection', 'text', (c) => c.notNull())
        .addColumn('connection_type', 'text', (c) => c.notNull())
        .addColumn('sub', 'text', (c) => c.notNull())
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('recording_path', 'text', (c) => c.notNull())
        .addColumn('operations', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('end_reason', 'text')
        .execute();
      await db.schema.createIndex('sessions_started_at').on('sessions').column('started_at').execute();
      await db.schema.createIndex('sessions_sub').on('sessions').columns(['sub', 'started_at']).execute();

      await db.schema
        .createTable('reviews')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('requester_sub', 'text', (c) => c.notNull())
        .addColumn('requester_groups', 'text', (c) => c.notNull())
        .addColumn('connection', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('normalized', 'text', (c) => c.notNull())
        .addColumn('op_hash', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('reasons', 'text', (c) => c.notNull())
        .addColumn('approvers_required', 'text', (c) => c.notNull())
        .addColumn('approvals', 'text', (c) => c.notNull())
        .addColumn('uses_left', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('decided_at', 'bigint')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('reviews_lookup')
        .on('reviews')
        .columns(['requester_sub', 'connection', 'op_hash'])
        .execute();
      await db.schema.createIndex('reviews_state').on('reviews').columns(['state', 'created_at']).execute();

      await db.schema
        .createTable('access_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sub', 'text', (c) => c.notNull())
        .addColumn('groups', 'text', (c) => c.notNull())
        .addColumn('connection', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'bigint', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('approvals', 'text', (c) => c.notNull())
        .addColumn('approvers_required', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('decided_at', 'bigint')
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('access_requests_lookup')
        .on('access_requests')
        .columns(['sub', 'connection'])
        .execute();
      await db.schema
        .createIndex('access_requests_state')
        .on('access_requests')
        .columns(['state', 'created_at'])
        .execute();

      await db.schema
        .createTable('revocations')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('revocations_pk', ['kind', 'value'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const t of ['revocations', 'access_requests', 'reviews', 'sessions', 'audit_log']) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}

/**
 * Revocations name their issuer: a principal is (issuer, sub) and a token id is unique only per
 * issuer. The primary key gains `issuer`, so the table is rebuilt (SQLite cannot change a key in
 * place). Rows written before keep `issuer = ''`, which means "any issuer": they go on revoking
 * what they revoked before (fail closed) rather than being guessed onto one issuer.
 */
function revocationIssuer(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('revocations_v2')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('issuer', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('revocations_v2_pk', ['kind', 'issuer', 'value'])
        .execute();
      await sql`insert into revocations_v2 (kind, issuer, value, at, reason) select kind, '', value, at, reason from revocations`.execute(
        db,
      );
      await db.schema.dropTable('revocations').execute();
      await db.schema.alterTable('revocations_v2').renameTo('revocations').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('revocations_v1')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('revocations_pk', ['kind', 'value'])
        .execute();
      // Going back widens every revocation to "any issuer" (the old meaning), never narrows one.
      await sql`insert into revocations_v1 (kind, value, at, reason) select kind, value, min(at), min(reason) from revocations group by kind, value`.execute(
        db,
      );
      await db.schema.dropTable('revocations').execute();
      await db.schema.alterTable('revocations_v1').renameTo('revocations').execute();
    },
  };
}

/**
 * Sessions, reviews and access requests name their principal's issuer: a principal is
 * (issuer, sub), and the same `sub` at two issuers is two callers. Additive: one column per table
 * (not null, default ''), and lookup indexes that lead with the issuer. Rows written before keep
 * `issuer = ''` (unknown), which matches no caller: such sessions, reviews and requests are
 * visible to admins only, an old approved review or JIT grant is no longer usable (the agent asks
 * again), and an old approval still counts against a same-`sub` approver (refuses, never admits).
 * Approvals inside the JSON `approvals` column gain `issuer` as they are written; older entries
 * read back with issuer ''.
 */
function principalIssuer(): Migration {
  const columns = [
    ['sessions', 'issuer'],
    ['reviews', 'requester_issuer'],
    ['access_requests', 'issuer'],
  ] as const;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const [table, column] of columns) {
        await db.schema
          .alterTable(table)
          .addColumn(column, 'text', (c) => c.notNull().defaultTo(''))
          .execute();
      }
      await db.schema
        .createIndex('sessions_principal')
        .on('sessions')
        .columns(['issuer', 'sub', 'started_at'])
        .execute();
      await db.schema
        .createIndex('reviews_principal_lookup')
        .on('reviews')
        .columns(['requester_issuer', 'requester_sub', 'connection', 'op_hash'])
        .execute();
      await db.schema
        .createIndex('access_requests_principal_lookup')
        .on('access_requests')
        .columns(['issuer', 'sub', 'connection'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const index of ['sessions_principal', 'reviews_principal_lookup', 'access_requests_principal_lookup']) {
        await db.schema.dropIndex(index).ifExists().execute();
      }
      for (const [table, column] of columns) await db.schema.alterTable(table).dropColumn(column).execute();
    },
  };
}

/** Reviews keep their impact preview (JSON, nullable: reviews from before have none). */
function reviewImpact(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('reviews').addColumn('impact', 'text').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('reviews').dropColumn('impact').execute();
    },
  };
}

/** Sessions name the gateway process serving them, so a restart can close a crashed one's. */
function sessionInstance(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('sessions')
        .addColumn('instance', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema.createIndex('sessions_open').on('sessions').columns(['ended_at', 'instance']).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex('sessions_open').ifExists().execute();
      await db.schema.alterTable('sessions').dropColumn('instance').execute();
    },
  };
}

/**
 * Signed audit checkpoints (anchors), kept apart from the log: each names a (seq, hash) of the
 * chain, when it was taken, and the Ed25519 key that signed it. A checkpoint is what makes a
 * deleted tail visible (the chain alone cannot tell its newest rows were removed). Several
 * gateway instances may sign the same seq, each with its own key.
 */
function auditCheckpoints(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_checkpoints')
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_checkpoints_pk', ['seq', 'key_id'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('audit_checkpoints').ifExists().execute();
    },
  };
}

/**
 * Recordings kept in the store (recordingStore: database): each buffered flush of a session's
 * recording is one row, (session, seq) in write order; the recording is its rows' bytes joined
 * by seq, the same bytes a file would hold. No foreign key: a chunk may land before the session
 * row (both are written as the session opens) and rows are never updated.
 */
function recordingChunks(dialect: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('recording_chunks')
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('data', dialect === 'sqlite' ? 'blob' : 'bytea', (c) => c.notNull())
        .addPrimaryKeyConstraint('recording_chunks_pk', ['session_id', 'seq'])
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('recording_chunks').ifExists().execute();
    },
  };
}

/**
 * The audit log is found by time through audit_log_times instead of an index on `at` (one B-tree
 * fewer written per commit, see audit/time-index.ts). Existing rows are indexed in one pass.
 */
function auditLogTimes(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_log_times')
        .addColumn('bucket', 'bigint', (c) => c.primaryKey())
        .addColumn('first_seq', 'bigint', (c) => c.notNull())
        .execute();
      const typed = db as Kysely<Database>;
      let max = -Infinity;
      let afterSeq = 0;
      for (;;) {
        const page = await typed
          .selectFrom('audit_log')
          .select(['seq', 'at'])
          .where('seq', '>', afterSeq)
          .orderBy('seq', 'asc')
          .limit(5000)
          .execute();
        const { rows, max: next } = newBuckets(
          max,
          page.length,
          (i) => Number(page[i]!.at),
          (i) => Number(page[i]!.seq),
        );
        if (rows.length > 0) await typed.insertInto('audit_log_times').values(rows).execute();
        max = next;
        if (page.length < 5000) break;
        afterSeq = Number(page[page.length - 1]!.seq);
      }
      await db.schema.dropIndex('audit_log_at').ifExists().execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('audit_log_at').ifNotExists().on('audit_log').column('at').execute();
      await db.schema.dropTable('audit_log_times').ifExists().execute();
    },
  };
}

/** Progress of the SQLite audit journals (audit/journal.ts); unused, but harmless, on PostgreSQL. */
function auditJournals(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_journals')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('audit_journals').ifExists().execute();
    },
  };
}

export class WardenMigrations implements MigrationProvider {
  constructor(private readonly dialect: StoreDialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return {
      '0001_initial': initial(this.dialect),
      '0002_revocation_issuer': revocationIssuer(),
      '0003_principal_issuer': principalIssuer(),
      '0004_review_impact': reviewImpact(),
      '0005_session_instance': sessionInstance(),
      '0006_audit_checkpoints': auditCheckpoints(),
      '0007_recording_chunks': recordingChunks(this.dialect),
      '0008_audit_log_times': auditLogTimes(),
      '0009_audit_journals': auditJournals(),
    };
  }
}

export const MIGRATION_TABLE = 'warden_migration';
export const MIGRATION_LOCK_TABLE = 'warden_migration_lock';
