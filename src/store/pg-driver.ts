// node-postgres, loaded at first use: a gateway on a SQLite store without the SQL front door
// (REST `exec`, MCP `query`) never needs it, and loading it costs ~3 MB of heap at start-up.
import type pg from 'pg';
import { lazyRequire } from '../core/lazy-require.js';

export const pgDriver = lazyRequire<typeof pg>('pg');
