import { createHash } from 'node:crypto';
import type { Operation } from '../core/types.js';

// An approval covers one exact operation: same identity, same connection, same text (literals
// included). A changed statement hashes differently and needs its own review.
export function operationHash(op: Pick<Operation, 'kind' | 'text' | 'connection' | 'identity'>): string {
  return createHash('sha256')
    .update(op.identity.issuer)
    .update('\0')
    .update(op.identity.sub)
    .update('\0')
    .update(op.connection.name)
    .update('\0')
    .update(op.kind)
    .update('\0')
    .update(op.text)
    .digest('hex');
}
