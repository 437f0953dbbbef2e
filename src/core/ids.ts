import { randomFillSync } from 'node:crypto';

// Sortable ids: 12 hex chars of milliseconds + 8 random hex chars, with a short type prefix
// (`s_` session, `op_` operation, `r_` review, `g_` grant) so an id says what it names.
// Two ids are made per operation in the data path, so random bytes come from a pooled buffer
// refilled 4 KiB at a time rather than a randomBytes() call each.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

function random4(): string {
  if (offset + 4 > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const s = pool.toString('hex', offset, offset + 4);
  offset += 4;
  return s;
}

export function newId(prefix: string, at = Date.now()): string {
  return `${prefix}_${at.toString(16).padStart(12, '0')}${random4()}`;
}
