import { createHash } from 'node:crypto';
import type { Operation } from '../core/types.js';

// An approval covers one exact operation: same identity, same connection, same text (literals
// included). A changed statement hashes differently and needs its own review.
export function operationHash(
  op: Pick<Operation, 'kind' | 'text' | 'connection' | 'identity'> & { resolved?: string },
): string {
  const h = createHash('sha256')
    .update(op.identity.issuer)
    .update('\0')
    .update(op.identity.sub)
    .update('\0')
    .update(op.connection.name)
    .update('\0')
    .update(op.kind)
    .update('\0')
    .update(op.text);
  // EXECUTE p: the approval covers what p is, not its name.
  if (op.resolved) h.update('\0').update(op.resolved);
  return h.digest('hex');
}
