// Domain objects the store hands out. Rows never leave src/store; see rows.ts for the mapping.
// Who a row belongs to is a principal, (issuer, sub); issuer '' means unknown (stored before
// 0003 recorded it) and matches nobody (see src/core/principal.ts).
import type { Principal } from '../core/principal.js';

export type StoreDialect = 'sqlite' | 'postgres';

export type RecordingFormat = 'jsonl' | 'asciicast';

export interface Session {
  id: string;
  connection: string;
  connectionType: string;
  issuer: string;
  sub: string;
  groups: string[];
  startedAt: number;
  endedAt: number | null;
  format: RecordingFormat;
  recordingPath: string;
  operations: number;
  endReason: string | null;
  /** The gateway process that serves it (crash recovery closes a dead one's sessions). */
  instance?: string;
}

export type NewSession = Omit<Session, 'endedAt' | 'operations' | 'endReason'> & { operations?: number };

export interface Approval {
  /** '' = unknown (approvals recorded before 0003). */
  issuer: string;
  sub: string;
  at: number;
  reason?: string;
}

export interface ApproversRequired {
  groups: string[];
  count: number;
}

export type ReviewState = 'pending' | 'approved' | 'denied' | 'expired' | 'executed';

export interface Review {
  id: string;
  state: ReviewState;
  requester: { issuer: string; sub: string; groups: string[] };
  connection: string;
  /** Operation kind (`sql`, `command`, `http`, …). */
  kind: string;
  /** The operation as the client sent it. */
  text: string;
  normalized: string;
  /** Hash of the exact operation an approval allows. */
  opHash: string;
  params: unknown;
  /** What the operation would do, computed when the review was created; null when none was. */
  impact?: ReviewImpact | null;
  rules: string[];
  reasons: unknown[];
  approversRequired: ApproversRequired;
  approvals: Approval[];
  /** Executions an approval still allows. */
  usesLeft: number;
  createdAt: number;
  decidedAt: number | null;
  expiresAt: number;
}

/**
 * A review's impact preview: the target's own EXPLAIN estimate and, for a single-table UPDATE or
 * DELETE, an exact count of the rows its condition matches (run read-only, never the write).
 */
export interface ReviewImpact {
  /** `known`: at least one number; `unknown`: none could be computed (see `reason`). */
  status: 'known' | 'unknown';
  /** What the write does: delete, update, insert, merge. */
  verb?: string;
  /** The table written (schema-qualified when the statement was). */
  table?: string;
  /** Rows the planner estimates (EXPLAIN), or null. */
  estimatedRows?: number | null;
  /** Rows the condition matches now (count), or null. */
  exactRows?: number | null;
  /** One line for people: "would delete 3 rows", "impact unknown: …". */
  summary: string;
  /** Why a number is missing. */
  reason?: string;
  /** HTTP and Kubernetes: the request as the target would receive it (src/approvals/impact-request.ts). */
  request?: RequestImpact;
  computedAt: number;
}

/** What an HTTP or Kubernetes operation would do: resolved method, normalised path, query, object. */
export interface RequestImpact {
  /** The method the target runs (method overrides are stripped or refused before this). */
  method: string;
  /** The path as normalised by the front door, relative to the connection. */
  path: string;
  query: Record<string, string | string[]>;
  /** Where it goes: the connection's upstream URL (no credentials) with the path and query. */
  url?: string;
  /** Request body size in bytes, when known. */
  bodyBytes?: number | null;
  /** Top-level field names of a JSON object body (names only: values can be secrets). */
  jsonFields?: string[];
  /** Kubernetes: the object the verb acts on. */
  k8s?: { verb: string; resource: string; namespace: string; name: string; subresource: string };
}

/** Fields a review may change after it is created. */
export type ReviewPatch = Partial<Pick<Review, 'state' | 'approvals' | 'usesLeft' | 'decidedAt' | 'expiresAt'>>;

export type AccessRequestState = 'pending' | 'approved' | 'denied' | 'revoked' | 'expired';

export interface AccessRequest {
  id: string;
  issuer: string;
  sub: string;
  groups: string[];
  connection: string;
  reason: string;
  durationMs: number;
  state: AccessRequestState;
  approvals: Approval[];
  approversRequired: ApproversRequired;
  createdAt: number;
  decidedAt: number | null;
  /** While pending: when the request lapses. Once approved: when the grant ends. */
  expiresAt: number;
}

export type AccessRequestPatch = Partial<Pick<AccessRequest, 'state' | 'approvals' | 'decidedAt' | 'expiresAt'>>;

/** List filters by owner: `sub` alone matches it at every issuer (admin listings, tests); visibility passes both. */
export interface OwnerFilter {
  sub?: string;
  issuer?: string;
}

/** A lookup that grants something names the whole principal. */
export type PrincipalLookup = Principal;

export interface Revocation {
  kind: 'token' | 'sub';
  /** A token id (`jti`) or a subject. */
  value: string;
  /** The issuer of that token or subject; absent = any issuer (revocations stored before issuers were recorded). */
  issuer?: string;
  at: number;
  reason: string;
}
