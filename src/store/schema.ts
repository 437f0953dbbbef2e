// Table shapes as kysely sees them. Times are epoch milliseconds (bigint in PostgreSQL, read
// back as numbers); JSON columns are text in both dialects so one mapping serves both.
import type { Generated } from 'kysely';

export interface AuditLogTable {
  seq: number;
  id: string;
  at: number;
  type: string;
  actor: string | null;
  session: string | null;
  connection: string | null;
  /** Canonical JSON text; hashed byte for byte. */
  data: string;
  prev_hash: string;
  hash: string;
}

/** Where the audit log reaches each 10-second bucket of `at` (see audit/time-index.ts). */
export interface AuditLogTimesTable {
  bucket: number;
  first_seq: number;
}

/**
 * How far each audit journal (a SQLite file store's per-process append file, audit/journal.ts)
 * has been moved into audit_log (0009): updated in the same transaction as the rows it covers.
 */
export interface AuditJournalsTable {
  /** The journal file's name in the store's `<file>.audit` folder. */
  name: string;
  /** Bytes of the file already in audit_log. */
  bytes: number;
}

export interface SessionsTable {
  id: string;
  connection: string;
  connection_type: string;
  /** The principal's issuer; '' = unknown (rows from before 0003). */
  issuer: string;
  sub: string;
  groups: string;
  started_at: number;
  ended_at: number | null;
  format: string;
  recording_path: string;
  operations: number;
  end_reason: string | null;
  /** The gateway process that serves it ('' = unknown: rows from before 0005). */
  instance?: string;
}

export interface ReviewsTable {
  id: string;
  state: string;
  /** '' = unknown (rows from before 0003). */
  requester_issuer: string;
  requester_sub: string;
  requester_groups: string;
  connection: string;
  kind: string;
  text: string;
  normalized: string;
  op_hash: string;
  params: string;
  /** JSON ReviewImpact; null for reviews from before 0004 (and when none was computed). */
  impact: string | null;
  rules: string;
  reasons: string;
  approvers_required: string;
  approvals: string;
  uses_left: number;
  created_at: number;
  decided_at: number | null;
  expires_at: number;
}

export interface AccessRequestsTable {
  id: string;
  /** '' = unknown (rows from before 0003). */
  issuer: string;
  sub: string;
  groups: string;
  connection: string;
  reason: string;
  duration_ms: number;
  state: string;
  approvals: string;
  approvers_required: string;
  created_at: number;
  decided_at: number | null;
  expires_at: number;
}

export interface RevocationsTable {
  /** `token` (value is a token's jti) or `sub` (value is a subject). */
  kind: string;
  /** The issuer the revoked token or subject belongs to; '' = any issuer (rows from before 0002). */
  issuer: Generated<string>;
  value: string;
  at: number;
  reason: string;
}

/** A signed checkpoint of the audit chain (0006). */
export interface AuditCheckpointsTable {
  seq: number;
  /** First 16 hex digits of sha256 over the signer's public key (SPKI DER). */
  key_id: string;
  hash: string;
  at: number;
  /** The signer's Ed25519 public key, SPKI DER base64 (verify can be told which keys to trust). */
  public_key: string;
  /** Ed25519 signature over the checkpoint's canonical text, base64. */
  signature: string;
}

/** One flushed piece of a recording kept in the store (0007); the recording is its pieces by seq. */
export interface RecordingChunksTable {
  session_id: string;
  /** 0, 1, 2… per session, in write order. */
  seq: number;
  data: Uint8Array;
}

export interface Database {
  audit_log: AuditLogTable;
  audit_log_times: AuditLogTimesTable;
  audit_journals: AuditJournalsTable;
  audit_checkpoints: AuditCheckpointsTable;
  sessions: SessionsTable;
  reviews: ReviewsTable;
  access_requests: AccessRequestsTable;
  revocations: RevocationsTable;
  recording_chunks: RecordingChunksTable;
}
