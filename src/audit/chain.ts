// The hash chain: hash = sha256(prev_hash + canonical(entry fields)). `seq` is not hashed:
// order is carried by the links, and gaps in seq reveal deleted rows.
import { hash } from 'node:crypto';
import { jsonNumber, jsonString, jsonStringOrNull } from '../core/json-string.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainFields {
  id: string;
  at: number;
  type: string;
  actor: string | null;
  session: string | null;
  connection: string | null;
}

/**
 * The canonical encoding of the fields, written out by hand (keys in sorted order, `data` as the
 * stored canonical text): byte for byte what canonicalJson gives for the same object, without
 * building and sorting one per append (the audit append is on every operation's path).
 */
export function chainBody(f: ChainFields, dataText: string): string {
  return `{"actor":${jsonStringOrNull(f.actor)},"at":${jsonNumber(f.at)},"connection":${jsonStringOrNull(f.connection)},"data":${dataText},"id":${jsonString(f.id)},"session":${jsonStringOrNull(f.session)},"type":${jsonString(f.type)}}`;
}

export function chainHash(prevHash: string, f: ChainFields, dataText: string): string {
  // One-shot (node >= 20.12): half the cost of a Hash object for an entry this size; the bytes
  // hashed are the same (prevHash then the body, UTF-8).
  return hash('sha256', prevHash + chainBody(f, dataText), 'hex');
}
