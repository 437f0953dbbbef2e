import type { Command } from 'commander';
import { ApiClient, type ClientOptions } from '../client.js';
import { CliExit } from '../exit.js';
import { withClient } from '../options.js';
import { table } from '../table.js';

export interface ExecResponse {
  outcome: 'ok' | 'blocked' | 'review' | 'error';
  effect: string;
  rules: string[];
  message?: string;
  reviewId?: string;
  session?: string;
  results?: { command?: string; columns?: string[]; rows?: unknown[][]; rowCount?: number }[];
}

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
      process.stderr.write(`approval required: review ${res.reviewId}; waiting…\n`);
      const deadline = Date.now() + waitMs(opts.wait);
      for (;;) {
        const { review } = await api.request<{ review: { state: string } }>('GET', `/api/v1/reviews/${res.reviewId}?wait=20s`);
        if (review.state === 'approved') break;
        if (review.state !== 'pending' || Date.now() > deadline) throw new CliExit(1, `review ${res.reviewId} ${review.state === 'pending' ? 'still pending' : review.state}`);
      }
      res = await api.request<ExecResponse>('POST', '/api/v1/exec', body);
    }
    printExec(res, !!opts.json);
    if (res.outcome !== 'ok') throw new CliExit(1);
  });
}

function waitMs(w: string | boolean): number {
  if (w === true) return 600_000;
  const m = /^(\d+)(s|m|h)$/.exec(String(w));
  return m ? Number(m[1]) * ({ s: 1e3, m: 6e4, h: 3.6e6 } as Record<string, number>)[m[2] as string]! : 600_000;
}

export function printExec(res: ExecResponse, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    return;
  }
  if (res.outcome !== 'ok') {
    process.stderr.write(`${res.message ?? res.outcome}\n`);
    return;
  }
  for (const r of res.results ?? []) {
    if (r.columns && r.rows) {
      process.stdout.write(table(r.columns, r.rows.map((row) => row.map((v) => (v === null ? 'NULL' : String(v))))));
      process.stdout.write(`(${r.rowCount ?? r.rows.length} row${(r.rowCount ?? r.rows.length) === 1 ? '' : 's'})${res.effect === 'mask' ? ' — masked' : ''}\n`);
    } else if (r.command) {
      process.stdout.write(`${r.command}\n`);
    }
  }
}
