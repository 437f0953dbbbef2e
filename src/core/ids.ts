import { randomBytes } from 'node:crypto';

// Sortable ids: 12 hex chars of milliseconds + 8 random hex chars, with a short type prefix
// (`s_` session, `op_` operation, `r_` review, `g_` grant) so an id says what it names.
export function newId(prefix: string, at = Date.now()): string {
  return `${prefix}_${at.toString(16).padStart(12, '0')}${randomBytes(4).toString('hex')}`;
}
