import type { AuditLogTable } from '../store/index.js';

export interface AuditEntry {
  type: string;
  actor?: string;
  session?: string;
  connection?: string;
  data: Record<string, unknown>;
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
  return { ...fieldsOf(r), data: JSON.parse(r.data) as Record<string, unknown> };
}

/**
 * The same record, with `data` parsed on first read. Appends resolve with this: in the data path
 * nearly every caller ignores the record, so the JSON is not parsed back for nothing.
 */
export function lazyRecordFromRow(r: AuditLogTable): AuditRecord {
  let data: Record<string, unknown> | undefined;
  return Object.defineProperty(fieldsOf(r) as AuditRecord, 'data', {
    enumerable: true,
    get(): Record<string, unknown> {
      data ??= JSON.parse(r.data) as Record<string, unknown>;
      return data;
    },
  });
}

function fieldsOf(r: AuditLogTable): Omit<AuditRecord, 'data'> {
  return {
    seq: Number(r.seq),
    id: r.id,
    at: Number(r.at),
    type: r.type,
    actor: r.actor,
    session: r.session,
    connection: r.connection,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
