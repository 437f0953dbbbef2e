import type { AuditLogTable } from '../store/index.js';
import type { RawJson } from './canonical.js';

export interface AuditEntry {
  type: string;
  actor?: string;
  session?: string;
  connection?: string;
  /** An object (written as canonical JSON, secret-named keys dropped), or already-canonical text. */
  data: Record<string, unknown> | RawJson;
}

export interface AuditRecord {
  seq: number;
  id: string;
  /** Epoch milliseconds. */
  at: number;
  type: string;
  actor: string | null;
  session: string | null;
  connection: string | null;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export function recordFromRow(r: AuditLogTable): AuditRecord {
  return {
    seq: Number(r.seq),
    id: r.id,
    at: Number(r.at),
    type: r.type,
    actor: r.actor,
    session: r.session,
    connection: r.connection,
    data: JSON.parse(r.data) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** A stored row as a record, with `data` parsed on first read (see appendedRecord). */
export function lazyRecordFromRow(r: AuditLogTable): AuditRecord {
  return appendedRecord(r, Number(r.seq), r.prev_hash, r.hash);
}

/**
 * The record an append resolves with: one object literal (one shape for every entry; a
 * defineProperty would turn each into a slow dictionary object), `data` parsed on first read —
 * in the data path nearly every caller ignores the record, so the JSON is not parsed back for
 * nothing.
 */
export function appendedRecord(
  row: Omit<AuditLogTable, 'seq' | 'prev_hash' | 'hash'>,
  seq: number,
  prevHash: string,
  hash: string,
): AuditRecord {
  let data: Record<string, unknown> | undefined;
  const text = row.data;
  return {
    seq,
    id: row.id,
    at: Number(row.at),
    type: row.type,
    actor: row.actor,
    session: row.session,
    connection: row.connection,
    get data(): Record<string, unknown> {
      data ??= JSON.parse(text) as Record<string, unknown>;
      return data;
    },
    prevHash,
    hash,
  };
}
