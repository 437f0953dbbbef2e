// The store backends every store test runs against: a temp SQLite file and a real PostgreSQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store, type StoreDialect } from '../../../src/store/index.js';
import { runSql, startPostgres, type TestPostgres } from '../../helpers/postgres.js';

export interface StoreBackend {
  dialect: StoreDialect;
  /** URL of a fresh, empty store for this backend; each call gives a new one. */
  freshUrl(): Promise<string>;
  open(url?: string): Promise<Store>;
  stop(): Promise<void>;
}

export async function sqliteBackend(): Promise<StoreBackend> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
  let n = 0;
  const freshUrl = async () => `sqlite:${join(dir, `store-${n++}.db`)}`;
  return {
    dialect: 'sqlite',
    freshUrl,
    open: async (url) => openStore(url ?? (await freshUrl())),
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function postgresBackend(): Promise<StoreBackend> {
  const server: TestPostgres = await startPostgres();
  let n = 0;
  const freshUrl = async () => {
    const name = `${server.database}_store_${n++}`; // unique on a cluster shared with other files
    await runSql(server.superuserUrl, `CREATE DATABASE ${name} OWNER ${server.user}`);
    return server.url.replace(/\/[^/]*$/, `/${name}`);
  };
  return {
    dialect: 'postgres',
    freshUrl,
    open: async (url) => openStore(url ?? (await freshUrl())),
    stop: () => server.stop(),
  };
}

export const BACKENDS: Array<{ name: StoreDialect; start: () => Promise<StoreBackend> }> = [
  { name: 'sqlite', start: sqliteBackend },
  { name: 'postgres', start: postgresBackend },
];
