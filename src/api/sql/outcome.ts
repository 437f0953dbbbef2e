// Run SQL on a front-door client and describe what happened in one shape, shared by REST `exec`
// and MCP `query`. The engine decided and enforced; the outcome is built from the Verdicts the
// session reported as data (the same decision the audit entry holds), never from error text.
import type pg from 'pg';
import { WardenError } from '../../core/errors.js';
import type { Effect } from '../../core/types.js';
import type { VerdictReport } from '../../gateway/verdict.js';
import { type FrontDoorClient, QueryFailed } from './front-door.js';

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
  /** The enforced decision's effect (`allow`, `mask`, `review`, `block`). */
  effect: Effect;
  /** Rules that matched. */
  rules: string[];
  /** The operation id (the audit entry's `data.op`). */
  operation?: string;
  /** The refusal or error, one line, already masked by the gateway. */
  message?: string;
  /** The review that refused it, or the approved review it ran under. */
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

/** Run one operation (possibly several statements) and translate the outcome. */
export async function runSql(door: FrontDoorClient, text: string, opts: RunSqlOptions): Promise<SqlOutcome> {
  try {
    // No values: node-postgres sends a simple Query, so multi-statement text is one operation, as in psql.
    const { value, verdicts } = await door.exclusive(
      (client) =>
        client.query({ text, rowMode: 'array' }) as unknown as Promise<
          pg.QueryResult<unknown[]> | pg.QueryResult<unknown[]>[]
        >,
    );
    const list = Array.isArray(value) ? value : [value];
    const verdict = enforced(verdicts);
    return {
      outcome: 'ok',
      ...fromVerdict(verdict),
      results: list.map((r) => statementResult(r, opts.maxRows)),
    };
  } catch (err) {
    if (!(err instanceof QueryFailed)) throw err;
    return refusedOrFailed(err);
  }
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

/** The verdict that governed the query: a refusal if there was one, else the last decision. */
function enforced(verdicts: VerdictReport[]): VerdictReport | undefined {
  for (const v of verdicts) if (v.effect === 'block' || v.effect === 'review') return v;
  return verdicts[verdicts.length - 1];
}

function fromVerdict(v: VerdictReport | undefined): Pick<SqlOutcome, 'effect' | 'rules' | 'operation' | 'reviewId'> {
  // No verdict: the gateway refused before deciding (a protocol error): nothing ran.
  if (!v) return { effect: 'block', rules: [] };
  return { effect: v.effect, rules: v.rules, operation: v.op, ...(v.reviewId ? { reviewId: v.reviewId } : {}) };
}

function refusedOrFailed(failed: QueryFailed): SqlOutcome {
  const e = failed.error as { code?: string; message?: string };
  if (typeof e?.code !== 'string' || e.message === undefined) {
    throw new WardenError('WARDEN_TARGET_UNAVAILABLE', 'the session through the PostgreSQL engine ended unexpectedly', {
      cause: failed.error,
    });
  }
  const v = enforced(failed.verdicts);
  const base = { ...fromVerdict(v), message: e.message, sqlstate: e.code };
  if (v?.effect === 'review') {
    return { outcome: 'review', ...base, ...(v.approvers ? { approvers: v.approvers } : {}) };
  }
  if (v?.effect === 'block' || !v) {
    return { outcome: 'blocked', ...base, ...(v?.terminate ? { sessionEnded: true } : {}) };
  }
  // The gateway let it through; the target refused it (syntax, missing table, constraint…).
  return { outcome: 'error', ...base };
}
