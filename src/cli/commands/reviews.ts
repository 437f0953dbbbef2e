import type { Command } from 'commander';
import { ApiClient, type ClientOptions } from '../client.js';
import { withClient } from '../options.js';
import { table } from '../table.js';

export interface ReviewView {
  id: string;
  state: string;
  requester: { sub: string; groups: string[] };
  connection: string;
  kind: string;
  text: string;
  rules: string[];
  reasons: { message: string; rule?: string }[];
  approversRequired: { groups: string[]; count: number };
  approvals: { sub: string; at: number; reason?: string }[];
  createdAt: number;
  expiresAt: number | null;
}

export function registerReviews(program: Command): void {
  const reviews = program.command('reviews').description('the approval inbox');
  withClient(reviews.command('list', { isDefault: true }).description('reviews you may act on, and your own').option('--state <s>', 'pending|approved|denied|expired|executed|all', 'pending')).action(
    async (opts: ClientOptions & { state: string }) => {
      const api = ApiClient.from(opts);
      const { reviews: rows } = await api.request<{ reviews: ReviewView[] }>('GET', `/api/v1/reviews?state=${encodeURIComponent(opts.state)}`);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      process.stdout.write(
        table(
          ['ID', 'STATE', 'WHO', 'CONNECTION', 'APPROVALS', 'OPERATION'],
          rows.map((r) => [r.id, r.state, r.requester.sub, r.connection, `${r.approvals.length}/${r.approversRequired.count}`, r.text.replace(/\s+/g, ' ')]),
        ),
      );
    },
  );
  withClient(reviews.command('show').argument('<id>').description('show one review')).action(async (id: string, opts: ClientOptions) => {
    const api = ApiClient.from(opts);
    const { review: r } = await api.request<{ review: ReviewView }>('GET', `/api/v1/reviews/${encodeURIComponent(id)}`);
    if (opts.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    process.stdout.write(
      [
        `review ${r.id} (${r.state})`,
        `  requester  ${r.requester.sub} [${r.requester.groups.join(', ')}]`,
        `  connection ${r.connection}`,
        `  operation  ${r.kind}: ${r.text}`,
        `  why        ${r.reasons.map((x) => (x.rule ? `${x.rule}: ${x.message}` : x.message)).join('; ')}`,
        `  needs      ${r.approversRequired.count} approval(s) from ${r.approversRequired.groups.join(', ')}`,
        `  approvals  ${r.approvals.map((a) => a.sub).join(', ') || '(none)'}`,
        `  created    ${new Date(r.createdAt).toISOString()}${r.expiresAt ? `, expires ${new Date(r.expiresAt).toISOString()}` : ''}`,
        '',
      ].join('\n'),
    );
  });
  for (const verb of ['approve', 'deny'] as const) {
    withClient(reviews.command(verb).argument('<id>').description(`${verb} a review`).option('--reason <text>', 'why')).action(
      async (id: string, opts: ClientOptions & { reason?: string }) => {
        const api = ApiClient.from(opts);
        const { review: r } = await api.request<{ review: ReviewView }>('POST', `/api/v1/reviews/${encodeURIComponent(id)}/${verb}`, {
          ...(opts.reason ? { reason: opts.reason } : {}),
        });
        if (opts.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        process.stdout.write(`review ${r.id}: ${r.state} (${r.approvals.length}/${r.approversRequired.count} approvals)\n`);
      },
    );
  }
}
