import type { Command } from 'commander';
import { consoleLink } from '../../approvals/notify.js';
import { displayLines, displayText } from '../../core/display-text.js';
import { ApiClient, type ClientOptions } from '../client.js';
import { withClient } from '../options.js';
import { table } from '../table.js';

export interface ReviewView {
  id: string;
  state: string;
  requester: { sub: string; groups: string[]; issuer?: string };
  connection: string;
  kind: string;
  text: string;
  rules: string[];
  reasons: { message: string; rule?: string }[];
  approversRequired: { groups: string[]; count: number };
  approvals: { sub: string; at: number; reason?: string }[];
  createdAt: number;
  expiresAt: number | null;
  /** The impact preview (SQL writes); absent on other kinds and on reviews from before it. */
  impact?: { status: string; summary: string; estimatedRows?: number | null; exactRows?: number | null } | null;
}

export function registerReviews(program: Command): void {
  const reviews = program.command('reviews').description('the approval inbox');
  withClient(
    reviews
      .command('list', { isDefault: true })
      .description('reviews you may act on, and your own')
      .option('--state <s>', 'pending|approved|denied|expired|executed|all', 'pending'),
  ).action(async (opts: ClientOptions & { state: string }) => {
    const api = ApiClient.from(opts);
    const { reviews: rows } = await api.request<{ reviews: ReviewView[] }>(
      'GET',
      `/api/v1/reviews?state=${encodeURIComponent(opts.state)}`,
    );
    if (opts.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    process.stdout.write(
      table(
        ['ID', 'STATE', 'WHO', 'CONNECTION', 'APPROVALS', 'OPERATION'],
        rows.map((r) => [
          r.id,
          r.state,
          r.requester.sub,
          r.connection,
          `${r.approvals.length}/${r.approversRequired.count}`,
          r.text,
        ]),
      ),
    );
  });
  withClient(reviews.command('show').argument('<id>').description('show one review')).action(
    async (id: string, opts: ClientOptions) => {
      const api = ApiClient.from(opts);
      const { review: r } = await api.request<{ review: ReviewView }>(
        'GET',
        `/api/v1/reviews/${encodeURIComponent(id)}`,
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.stdout.write(formatReview(r, await consolePage(api.baseUrl, r.id)));
    },
  );
  for (const verb of ['approve', 'deny'] as const) {
    withClient(
      reviews.command(verb).argument('<id>').description(`${verb} a review`).option('--reason <text>', 'why'),
    ).action(async (id: string, opts: ClientOptions & { reason?: string }) => {
      const api = ApiClient.from(opts);
      const { review: r } = await api.request<{ review: ReviewView }>(
        'POST',
        `/api/v1/reviews/${encodeURIComponent(id)}/${verb}`,
        {
          ...(opts.reason ? { reason: opts.reason } : {}),
        },
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.stdout.write(
        `review ${displayText(r.id)}: ${displayText(r.state)} (${r.approvals.length}/${r.approversRequired.count} approvals)\n`,
      );
    });
  }
}

/** The review's console page, when the gateway names its console URL (`console.url`). */
async function consolePage(gateway: string, id: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${gateway}/console/config.json`, { signal: AbortSignal.timeout(5000) });
    const { url } = (await res.json()) as { url?: unknown };
    return typeof url === 'string' && /^https?:\/\//.test(url) ? consoleLink(url, { review: id }) : undefined;
  } catch {
    return undefined; // no link is no error
  }
}

/** Where the lines of a multi-line operation start: under the value column, behind a gutter. */
const GUTTER = '             | ';

/**
 * `warden reviews show`. Every field from the API goes through displayText, so the text an approver
 * reads is the text that runs: a control character, bidi override or zero-width character shows
 * as an escape (`\x1b`, `\u202e`). An operation of one line stays on the `operation` line; one of
 * several lines keeps its shape, each line behind the gutter `| `, so no line of it can pass for a
 * line of this output (a CR shows as `\r`, so it cannot rewrite one either).
 */
export function formatReview(r: ReviewView, link?: string): string {
  const t = displayText;
  const list = (xs: string[]) => xs.map(t).join(', ');
  const operation = r.text.includes('\n')
    ? [`  operation  ${t(r.kind)}:`, ...displayLines(r.text).map((line) => `${GUTTER}${line}`)]
    : [`  operation  ${t(r.kind)}: ${t(r.text)}`];
  const approvals = r.approvals.map((a) => (a.reason ? `${t(a.sub)} (${t(a.reason)})` : t(a.sub))).join(', ');
  return [
    `review ${t(r.id)} (${t(r.state)})`,
    `  requester  ${t(r.requester.sub)}${r.requester.issuer ? ` @ ${t(r.requester.issuer)}` : ''} [${list(r.requester.groups)}]`,
    `  connection ${t(r.connection)}`,
    ...operation,
    ...(r.impact ? [`  impact     ${t(r.impact.summary)}`] : []),
    `  why        ${r.reasons.map((x) => t(x.rule ? `${x.rule}: ${x.message}` : x.message)).join('; ')}`,
    `  needs      ${r.approversRequired.count} approval(s) from ${list(r.approversRequired.groups)}`,
    `  approvals  ${approvals || '(none)'}`,
    `  created    ${new Date(r.createdAt).toISOString()}${r.expiresAt ? `, expires ${new Date(r.expiresAt).toISOString()}` : ''}`,
    ...(link ? [`  console    ${t(link)}`] : []),
    '',
  ].join('\n');
}
