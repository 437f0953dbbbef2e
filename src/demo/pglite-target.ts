// The embedded PostgreSQL of `warden demo`: PGlite (Postgres compiled to WebAssembly, no system
// packages) with its files in the demo folder, so the first start pays for initdb and later
// starts reopen it in seconds. The sample `shop` schema is loaded once.
import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';

export const SHOP_SQL_URL = new URL('./shop.sql', import.meta.url);

/** Open (or create) the PGlite database whose files live in `dir`. */
export function openPglite(dir: string): Promise<PGlite> {
  return PGlite.create({ dataDir: dir });
}

/** Load the shop sample unless it is there already. True when it was loaded now. */
export async function ensureShopSample(db: PGlite): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('public.customers') IS NOT NULL AS present",
  );
  if (rows[0]?.present) return false;
  const sql = await readFile(SHOP_SQL_URL, 'utf8');
  await db.transaction(async (tx) => {
    await tx.exec(sql);
  });
  return true;
}
