// The hash chain: hash = sha256(prev_hash + canonical(entry fields)). `seq` is not hashed:
// order is carried by the links, and gaps in seq reveal deleted rows.
import { createHash } from 'node:crypto';
import { canonicalJson, RawJson } from './canonical.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainFields {
  id: string;
  at: number;
  type: string;
  actor: string | null;
  session: string | null;
  connection: string | null;
}

export function chainHash(prevHash: string, f: ChainFields, dataText: string): string {
  const body = canonicalJson({
    actor: f.actor,
    at: f.at,
    connection: f.connection,
    data: new RawJson(dataText),
    id: f.id,
    session: f.session,
    type: f.type,
  });
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}
