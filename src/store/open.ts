// openStore: one entry point for both backends. SQLite (`sqlite:PATH`) is the default for a
// single gateway; PostgreSQL (`postgres://…`) lets several gateways share reviews, grants,
// revocations and the audit chain.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { WardenError } from '../core/errors.js';
import { type AccessRequestRepository, accessRequestRepository } from './access-requests.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, WardenMigrations } from './migrations.js';
import { pgDriver } from './pg-driver.js';
import { type ReviewRepository, reviewRepository } from './reviews.js';
import { type RevocationRepository, revocationRepository } from './revocations.js';
import type { Database } from './schema.js';
import { type SessionRepository, sessionRepository } from './sessions.js';
import { applySqliteSettings } from './sqlite-settings.js';
import type { StoreDialect } from './types.js';

export interface Store extends SessionRepository, ReviewRepository, AccessRequestRepository, RevocationRepository {
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  /**
   * SQLite only: the better-sqlite3 handle behind `db`, for synchronous hot paths (the audit
   * append). It is the same connection kysely uses, so only use it when `inTransaction` is false.
   */
  readonly sqlite?: SqliteDatabase.Database;
  /**
   * Runs `fn` in a write transaction that excludes every other writer taking the same lock, in
   * this process and in other gateway processes (SQLite: BEGIN IMMEDIATE; PostgreSQL:
   * pg_advisory_xact_lock). `fn` must use the `db` it is given, not `store.db`.
   */
  exclusive<T>(lock: string, fn: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The URL with any password replaced, for messages. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/, '$1:***@');
}

function advisoryKey(lock: string): string {
  const hex = createHash('sha256').update(`warden:${lock}`).digest('hex').slice(0, 16);
  return BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();
}

function sqliteKysely(path: string): { db: Kysely<Database>; database: SqliteDatabase.Database } {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new SqliteDatabase(path);
  applySqliteSettings(database);
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), database };
}

function postgresKysely(url: string, opts: { readOnly?: boolean } = {}): Kysely<Database> {
  const pg = pgDriver();
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // Offline readers (audit verify) cannot write, whatever the role may do.
    ...(opts.readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
    // int8 (times, seq) as numbers: every value we store is far below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its server must not crash the gateway; the next query fails instead.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

function makeExclusive(db: Kysely<Database>, dialect: StoreDialect): Store['exclusive'] {
  if (dialect === 'postgres') {
    return (lock, fn) =>
      db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${advisoryKey(lock)}::bigint)`.execute(trx);
        return fn(trx);
      });
  }
  // kysely's SQLite driver has one connection guarded by a mutex; holding it serializes this
  // process, and BEGIN IMMEDIATE takes the database write lock against other processes.
  return (_lock, fn) =>
    db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (e) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw e;
      }
    });
}

async function migrate(db: Kysely<Database>, dialect: StoreDialect): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new WardenMigrations(dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

/**
 * Opens an existing store read-only, without migrating: for auditors with only the database (or
 * a copy of it). SQLite opens the file read-only (it must exist); PostgreSQL sessions run with
 * `default_transaction_read_only`.
 */
export function openStoreReadOnly(url: string): { db: Kysely<Database>; close(): Promise<void> } {
  let db: Kysely<Database>;
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    let database: SqliteDatabase.Database;
    try {
      database = new SqliteDatabase(path, { readonly: true, fileMustExist: true });
    } catch (e) {
      throw new WardenError('WARDEN_CONFIG_INVALID', `store ${url} cannot be opened: ${(e as Error).message}`, {
        cause: e,
      });
    }
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    db = postgresKysely(url, { readOnly: true });
  } else {
    throw new WardenError('WARDEN_USAGE', 'store: expected sqlite:PATH or postgres://…');
  }
  return { db, close: () => db.destroy() };
}

/** Opens (and migrates) the store named by `sqlite:PATH` or `postgres://…`. */
export async function openStore(url: string): Promise<Store> {
  let dialect: StoreDialect;
  let db: Kysely<Database>;
  let sqlite: SqliteDatabase.Database | undefined;
  if (url.startsWith('sqlite:')) {
    dialect = 'sqlite';
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new WardenError('WARDEN_CONFIG_INVALID', 'store: sqlite: needs a file path');
    try {
      ({ db, database: sqlite } = sqliteKysely(path));
    } catch (e) {
      throw new WardenError('WARDEN_CONFIG_INVALID', `store ${url} cannot be opened: ${(e as Error).message}`, {
        cause: e,
      });
    }
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    dialect = 'postgres';
    db = postgresKysely(url);
  } else {
    throw new WardenError('WARDEN_CONFIG_INVALID', 'store: expected sqlite:PATH or postgres://…');
  }
  try {
    await migrate(db, dialect);
  } catch (e) {
    await db.destroy().catch(() => undefined);
    throw new WardenError(
      'WARDEN_CONFIG_INVALID',
      `store ${redactStoreUrl(url)} cannot be opened: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return {
    db,
    dialect,
    ...(sqlite ? { sqlite } : {}),
    exclusive: makeExclusive(db, dialect),
    close: () => db.destroy(),
    ...sessionRepository(db),
    ...reviewRepository(db),
    ...accessRequestRepository(db),
    ...revocationRepository(db),
  };
}
