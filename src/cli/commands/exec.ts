import { constants as osConstants } from 'node:os';
import type { Command } from 'commander';
import { displayText } from '../../core/display-text.js';
import { parseDuration } from '../../core/duration.js';
import { ApiClient, type ClientOptions } from '../client.js';
import { CliExit } from '../exit.js';
import { withClient } from '../options.js';
import { table } from '../table.js';

/** POST /api/v1/exec (the ExecResult schema in src/api/schemas.ts). */
export interface ExecResponse {
  outcome: 'ok' | 'blocked' | 'review' | 'error';
  effect: string;
  rules: string[];
  message?: string;
  reviewId?: string;
  approvers?: { groups: string[]; count: number };
  sqlstate?: string;
  results?: { command?: string; columns?: string[]; rows?: unknown[][]; rowCount?: number; truncated?: boolean }[];
  /** HTTP connections: the response as the client got it. */
  status?: number;
  body?: string;
  /** SSH connections: the command's exit status (126 when refused), its (masked) output. */
  exitStatus?: number | null;
  signal?: string;
  stdout?: string;
  stderr?: string;
  truncated?: boolean;
}

/** As ssh: 126 when the gateway refused the command, 128 + n for a signal, 1 when it was stopped. */
const REFUSED_STATUS = 126;

const DEFAULT_WAIT_MS = 600_000;

export function registerExec(program: Command): void {
  withClient(
    program
      .command('exec')
      .description('run one operation (SQL, a command, an HTTP request) through the gateway and print the result')
      .argument('<connection>')
      .argument('<input...>')
      .option('--wait [duration]', 'when a review is needed, wait for approval (default 10m) and then run it'),
  ).action(async (connection: string, input: string[], opts: ClientOptions & { wait?: string | boolean }) => {
    const api = ApiClient.from(opts);
    const body = { connection, input: input.join(' ') };
    let res = await api.request<ExecResponse>('POST', '/api/v1/exec', body);
    if (res.outcome === 'review' && opts.wait && res.reviewId) {
      await waitForApproval(api, res.reviewId, waitMs(opts.wait));
      res = await api.request<ExecResponse>('POST', '/api/v1/exec', body);
    }
    printExec(res, !!opts.json);
    // A command (SSH) exits as it did on the host, so scripts can test it like `ssh host cmd`.
    if (res.exitStatus !== undefined) process.exitCode = commandExitCode(res);
    else if (res.outcome !== 'ok') throw new CliExit(1);
  });
}

async function waitForApproval(api: ApiClient, reviewId: string, ms: number): Promise<void> {
  process.stderr.write(
    `approval required: review ${displayText(reviewId)}; waiting (an approver runs: warden reviews approve ${displayText(reviewId)})…\n`,
  );
  const deadline = Date.now() + ms;
  for (;;) {
    const left = Math.max(1, Math.min(20, Math.ceil((deadline - Date.now()) / 1000)));
    const { review } = await api.request<{ review: { state: string } }>(
      'GET',
      `/api/v1/reviews/${encodeURIComponent(reviewId)}?wait=${left}s`,
    );
    if (review.state === 'approved') return;
    if (review.state !== 'pending') throw new CliExit(1, `warden: review ${reviewId} was ${review.state}`);
    if (Date.now() >= deadline) throw new CliExit(1, `warden: review ${reviewId} is still pending`);
  }
}

function waitMs(w: string | boolean): number {
  if (w === true) return DEFAULT_WAIT_MS;
  try {
    return parseDuration(String(w));
  } catch {
    throw new CliExit(2, `warden: invalid --wait '${w}' (expected e.g. 90s, 10m)`);
  }
}

export function printExec(res: ExecResponse, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    return;
  }
  if (res.exitStatus !== undefined && res.outcome !== 'review' && res.outcome !== 'blocked') {
    // SSH: the command's output as it came (masked by the gateway), each on its own stream.
    if (res.stdout) process.stdout.write(res.stdout);
    if (res.stderr) process.stderr.write(res.stderr);
    if (res.truncated) process.stderr.write(`warden: ${displayText(res.message ?? 'output truncated')}\n`);
    return;
  }
  if (res.outcome === 'review') {
    // Messages can quote the operation or the database's error text: shown escaped, one line.
    process.stderr.write(`${displayText(res.message ?? `approval required: review ${res.reviewId}`)}\n`);
    if (res.reviewId)
      process.stderr.write(
        `an approver runs: warden reviews approve ${displayText(res.reviewId)}   (or re-run with --wait)\n`,
      );
    return;
  }
  if (res.status !== undefined && res.outcome !== 'blocked') {
    // HTTP: the status on stderr, the (masked) body as it came on stdout.
    process.stderr.write(`HTTP ${res.status}${res.effect === 'mask' ? ' — masked' : ''}\n`);
    if (res.body) process.stdout.write(res.body.endsWith('\n') ? res.body : `${res.body}\n`);
    return;
  }
  if (res.outcome !== 'ok') {
    process.stderr.write(
      `${displayText(`${res.message ?? res.outcome}${res.sqlstate && res.outcome === 'error' ? ` (SQLSTATE ${res.sqlstate})` : ''}`)}\n`,
    );
    return;
  }
  for (const r of res.results ?? []) {
    const count = r.rowCount ?? r.rows?.length ?? 0;
    if (r.columns && r.rows) {
      process.stdout.write(
        table(
          r.columns,
          r.rows.map((row) => row.map(cell)),
        ),
      );
      const shown = r.truncated ? `, ${r.rows.length} shown` : '';
      process.stdout.write(
        `(${count} row${count === 1 ? '' : 's'}${shown})${res.effect === 'mask' ? ' — masked' : ''}\n`,
      );
    } else if (r.command) {
      process.stdout.write(
        `${displayText(r.command)}${/^(INSERT|UPDATE|DELETE|MERGE|SELECT|COPY|MOVE|FETCH)$/.test(r.command) ? ` ${count}` : ''}\n`,
      );
    }
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function commandExitCode(res: ExecResponse): number {
  if (res.outcome === 'blocked' || res.outcome === 'review') return REFUSED_STATUS;
  if (typeof res.exitStatus === 'number') return res.exitStatus;
  const n = res.signal ? osConstants.signals[`SIG${res.signal}` as keyof typeof osConstants.signals] : undefined;
  return n ? 128 + n : 1;
}
