// Run SQL on a front-door client and describe what happened in one shape, shared by REST `exec`
// and MCP `query`. The front door decided and enforced; this only translates its answer.
import type pg from 'pg';
import { WardenError } from '../../core/errors.js';
import type { Effect, Identity, ReviewRequirement } from '../../core/types.js';
import { type Gateway, policyTest } from '../../gateway/index.js';

export interface StatementResult {
  command: string;
  /** Present when the statement returned rows. */
  columns?: string[];
  rows?: unknown[][];
  /** True number of rows (the statement's row count), even when `rows` was capped. */
  rowCount: number;
  truncated?: boolean;
}

export type SqlOutcomeKind = 'ok' | 'blocked' | 'review' | 'error';

export interface SqlOutcome {
  outcome: SqlOutcomeKind;
  /** The decision's effect (`allow`, `mask`, `review`, `block`). */
  effect: Effect;
  /** Rules that matched. */
  rules: string[];
  /** The refusal or error, one line, already masked by the gateway. */
  message?: string;
  reviewId?: string;
  /** Who may approve, when a review is needed. */
  approvers?: { groups: string[]; count: number };
  /** SQLSTATE of a refusal or target error. */
  sqlstate?: string;
  /** The gateway ended the session (token expired or revoked). */
  sessionEnded?: boolean;
  results?: StatementResult[];
}

export interface RunSqlOptions {
  /** Rows returned per statement (the recording keeps its own cap). */
  maxRows: number;
}

const REVIEW_ID = /^approval required: review (\S+?)[\s(;]/;
const RULE_NAME = /^blocked by rule (\S+?):/;

/** Run one operation (possibly several statements) and translate the outcome. */
export async function runSql(
  gw: Gateway,
  client: pg.Client,
  identity: Identity,
  connection: string,
  text: string,
  opts: RunSqlOptions,
): Promise<SqlOutcome> {
  let raw: pg.QueryResult<unknown[]> | pg.QueryResult<unknown[]>[];
  try {
    // No values: node-postgres sends a simple Query, so multi-statement text works as in psql.
    raw = (await client.query({ text, rowMode: 'array' })) as unknown as
      | pg.QueryResult<unknown[]>
      | pg.QueryResult<unknown[]>[];
  } catch (err) {
    return refusedOrFailed(gw, identity, connection, text, err);
  }
  const list = Array.isArray(raw) ? raw : [raw];
  const results = list.map((r) => statementResult(r, opts.maxRows));
  const report = explain(gw, identity, connection, text);
  // A review that let this run was approved (and consumed): the effect is what remains.
  const effect: Effect =
    report.effect === 'allow' || report.effect === 'mask' ? report.effect : report.masked ? 'mask' : 'allow';
  return { outcome: 'ok', effect, rules: report.rules, results };
}

function statementResult(r: pg.QueryResult<unknown[]>, maxRows: number): StatementResult {
  const rowCount = r.rowCount ?? r.rows.length;
  const command = r.command ?? '';
  if (!r.fields || r.fields.length === 0) return { command, rowCount };
  const rows = r.rows.length > maxRows ? r.rows.slice(0, maxRows) : r.rows;
  return {
    command,
    columns: r.fields.map((f) => f.name),
    rows,
    rowCount: Math.max(rowCount, r.rows.length),
    ...(rows.length < r.rows.length ? { truncated: true } : {}),
  };
}

function refusedOrFailed(gw: Gateway, identity: Identity, connection: string, text: string, err: unknown): SqlOutcome {
  const e = err as { code?: string; message?: string; severity?: string };
  if (typeof e?.code !== 'string' || e.message === undefined) {
    throw new WardenError(
      'WARDEN_TARGET_UNAVAILABLE',
      'the session through the PostgreSQL front door ended unexpectedly',
      { cause: err },
    );
  }
  const message = e.message;
  const report = explain(gw, identity, connection, text);
  if (e.code === '42501' && message.startsWith('approval required')) {
    const reviewId = REVIEW_ID.exec(message)?.[1];
    return {
      outcome: 'review',
      effect: 'review',
      rules: report.effect === 'review' ? report.rules : [],
      message,
      sqlstate: e.code,
      ...(reviewId ? { reviewId } : {}),
      ...(report.review ? { approvers: { groups: report.review.groups, count: report.review.count } } : {}),
    };
  }
  if (e.code === '42501' && message.startsWith('blocked')) {
    const rule = RULE_NAME.exec(message)?.[1];
    const rules = report.effect === 'block' ? report.rules : rule ? [rule] : [];
    return { outcome: 'blocked', effect: 'block', rules, message, sqlstate: e.code };
  }
  if (e.code === '28000' && message.startsWith('session ended')) {
    return { outcome: 'blocked', effect: 'block', rules: [], message, sqlstate: e.code, sessionEnded: true };
  }
  // The gateway let it through; the target refused it (syntax, missing table, constraint…).
  const effect: Effect = report.masked ? 'mask' : 'allow';
  return { outcome: 'error', effect, rules: report.rules, message, sqlstate: e.code };
}

interface DecisionReport {
  effect: Effect;
  rules: string[];
  masked: boolean;
  review: ReviewRequirement | null;
}

// The front door enforces; this dry run only fills in which rules matched for the report (the
// wire carries the winning rule alone). Pure: no target, no audit, no review.
function explain(gw: Gateway, identity: Identity, connection: string, text: string): DecisionReport {
  try {
    const d = policyTest(gw.config, gw.policy, identity, connection, text, gw.approvals.activeGrants(identity));
    return { effect: d.effect, rules: d.rules, masked: d.masking !== null, review: d.review };
  } catch {
    return { effect: 'block', rules: [], masked: false, review: null };
  }
}
