// The settings of every read-write connection to a SQLite store (the store's own, the audit
// writer thread's): WAL, so readers never wait for the writer; synchronous=NORMAL, so a commit
// survives a crash of the process (kill -9); a busy timeout for the moments another connection
// holds the write lock; and SQLite's own default page cache (2 MB). better-sqlite3 builds SQLite
// with a 16 MB one, which the audit appends fill within a minute of load and then keep (measured:
// the gateway's malloc'd memory 10 → ~40 MB after a pgbench run); appends touch only the right
// edge of each B-tree, and the OS caches the file for the console's reads.
import type SqliteDatabase from 'better-sqlite3';

const PAGE_CACHE_KIB = 2048;

export function applySqliteSettings(database: SqliteDatabase.Database): void {
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
}
