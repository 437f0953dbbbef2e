// node-postgres, loaded at first use: a gateway on a SQLite store without the SQL front door
// (REST `exec`, MCP `query`) never needs it, and loading it costs ~3 MB of heap at start-up.
// It is CommonJS, so a synchronous require keeps its callers synchronous.
import { createRequire } from 'node:module';
import type pg from 'pg';

let driver: typeof pg | undefined;

export function pgDriver(): typeof pg {
  driver ??= createRequire(import.meta.url)('pg') as typeof pg;
  return driver;
}
