import { randomFillSync } from 'node:crypto';

// Sortable ids: 12 hex chars of milliseconds + 8 random hex chars, with a short type prefix
// (`s_` session, `op_` operation, `r_` review, `g_` grant) so an id says what it names.
// Two ids are made per operation in the data path, so random bytes come from a pool refilled
// 4 KiB at a time and hex-encoded once per refill (an id slices 8 chars of it), and the time part
// is reused within a millisecond.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let hex = '';
let offset = 2 * POOL_SIZE;
let lastAt = Number.NaN;
let lastTime = '';

function random8(): string {
  if (offset + 8 > 2 * POOL_SIZE) {
    randomFillSync(pool);
    hex = pool.toString('hex');
    offset = 0;
  }
  const s = hex.slice(offset, offset + 8);
  offset += 8;
  return s;
}

export function newId(prefix: string, at = Date.now()): string {
  if (at !== lastAt) {
    lastAt = at;
    lastTime = at.toString(16).padStart(12, '0');
  }
  return `${prefix}_${lastTime}${random8()}`;
}
