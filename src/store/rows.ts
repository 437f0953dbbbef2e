// Row <-> object mapping, in one place. JSON columns are text; times are epoch ms numbers.
import type { Insertable, Selectable } from 'kysely';
import type { AccessRequestsTable, ReviewsTable, RevocationsTable, SessionsTable } from './schema.js';
import type {
  AccessRequest,
  AccessRequestState,
  Approval,
  RecordingFormat,
  Review,
  ReviewImpact,
  ReviewState,
  Revocation,
  Session,
} from './types.js';

const json = (v: unknown): string => JSON.stringify(v ?? null);
const parse = <T>(text: string): T => JSON.parse(text) as T;

/** Approvals recorded before 0003 have no issuer: '' (unknown). */
function parseApprovals(text: string): Approval[] {
  const list = parse<Array<Partial<Approval>> | null>(text) ?? [];
  return list.map((a) => ({ ...a, issuer: typeof a.issuer === 'string' ? a.issuer : '' }) as Approval);
}

export function sessionToRow(s: Session): SessionsTable {
  return {
    id: s.id,
    connection: s.connection,
    connection_type: s.connectionType,
    issuer: s.issuer,
    sub: s.sub,
    groups: json(s.groups),
    started_at: s.startedAt,
    ended_at: s.endedAt,
    format: s.format,
    recording_path: s.recordingPath,
    operations: s.operations,
    end_reason: s.endReason,
    ...(s.instance ? { instance: s.instance } : {}),
  };
}

export function sessionFromRow(r: SessionsTable): Session {
  return {
    id: r.id,
    connection: r.connection,
    connectionType: r.connection_type,
    issuer: r.issuer ?? '',
    sub: r.sub,
    groups: parse<string[]>(r.groups),
    startedAt: Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
    format: r.format as RecordingFormat,
    recordingPath: r.recording_path,
    operations: Number(r.operations),
    endReason: r.end_reason,
    ...(r.instance ? { instance: r.instance } : {}),
  };
}

export function reviewToRow(r: Review): ReviewsTable {
  return {
    id: r.id,
    state: r.state,
    requester_issuer: r.requester.issuer,
    requester_sub: r.requester.sub,
    requester_groups: json(r.requester.groups),
    connection: r.connection,
    kind: r.kind,
    text: r.text,
    normalized: r.normalized,
    op_hash: r.opHash,
    params: json(r.params),
    impact: r.impact ? json(r.impact) : null,
    rules: json(r.rules),
    reasons: json(r.reasons),
    approvers_required: json(r.approversRequired),
    approvals: json(r.approvals),
    uses_left: r.usesLeft,
    created_at: r.createdAt,
    decided_at: r.decidedAt,
    expires_at: r.expiresAt,
  };
}

export function reviewFromRow(r: ReviewsTable): Review {
  return {
    id: r.id,
    state: r.state as ReviewState,
    requester: {
      issuer: r.requester_issuer ?? '',
      sub: r.requester_sub,
      groups: parse<string[]>(r.requester_groups),
    },
    connection: r.connection,
    kind: r.kind,
    text: r.text,
    normalized: r.normalized,
    opHash: r.op_hash,
    params: parse<unknown>(r.params),
    ...(r.impact ? { impact: parse<ReviewImpact>(r.impact) } : {}),
    rules: parse<string[]>(r.rules),
    reasons: parse<unknown[]>(r.reasons),
    approversRequired: parse<Review['approversRequired']>(r.approvers_required),
    approvals: parseApprovals(r.approvals),
    usesLeft: Number(r.uses_left),
    createdAt: Number(r.created_at),
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
    expiresAt: Number(r.expires_at),
  };
}

/** Maps only the fields present in a patch, so an update never clobbers what it did not name. */
export function reviewPatchToRow(p: Partial<Review>): Partial<ReviewsTable> {
  const row: Partial<ReviewsTable> = {};
  if (p.state !== undefined) row.state = p.state;
  if (p.approvals !== undefined) row.approvals = json(p.approvals);
  if (p.usesLeft !== undefined) row.uses_left = p.usesLeft;
  if (p.decidedAt !== undefined) row.decided_at = p.decidedAt;
  if (p.expiresAt !== undefined) row.expires_at = p.expiresAt;
  return row;
}

export function accessRequestToRow(a: AccessRequest): AccessRequestsTable {
  return {
    id: a.id,
    issuer: a.issuer,
    sub: a.sub,
    groups: json(a.groups),
    connection: a.connection,
    reason: a.reason,
    duration_ms: a.durationMs,
    state: a.state,
    approvals: json(a.approvals),
    approvers_required: json(a.approversRequired),
    created_at: a.createdAt,
    decided_at: a.decidedAt,
    expires_at: a.expiresAt,
  };
}

export function accessRequestFromRow(r: AccessRequestsTable): AccessRequest {
  return {
    id: r.id,
    issuer: r.issuer ?? '',
    sub: r.sub,
    groups: parse<string[]>(r.groups),
    connection: r.connection,
    reason: r.reason,
    durationMs: Number(r.duration_ms),
    state: r.state as AccessRequestState,
    approvals: parseApprovals(r.approvals),
    approversRequired: parse<AccessRequest['approversRequired']>(r.approvers_required),
    createdAt: Number(r.created_at),
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
    expiresAt: Number(r.expires_at),
  };
}

export function accessRequestPatchToRow(p: Partial<AccessRequest>): Partial<AccessRequestsTable> {
  const row: Partial<AccessRequestsTable> = {};
  if (p.state !== undefined) row.state = p.state;
  if (p.approvals !== undefined) row.approvals = json(p.approvals);
  if (p.decidedAt !== undefined) row.decided_at = p.decidedAt;
  if (p.expiresAt !== undefined) row.expires_at = p.expiresAt;
  return row;
}

export function revocationToRow(r: Revocation): Insertable<RevocationsTable> {
  return { kind: r.kind, issuer: r.issuer ?? '', value: r.value, at: r.at, reason: r.reason };
}

export function revocationFromRow(r: Selectable<RevocationsTable>): Revocation {
  return {
    kind: r.kind as Revocation['kind'],
    value: r.value,
    ...(r.issuer ? { issuer: r.issuer } : {}),
    at: Number(r.at),
    reason: r.reason,
  };
}
