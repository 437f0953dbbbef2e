import type { Command } from 'commander';
import { displayText as t } from '../../core/display-text.js';
import { ApiClient, type ClientOptions } from '../client.js';
import { withClient } from '../options.js';
import { table } from '../table.js';

interface AccessRequestView {
  id: string;
  state: string;
  sub: string;
  connection: string;
  reason: string;
  durationMs: number;
  approvals: { sub: string }[];
  approversRequired: { groups: string[]; count: number };
  expiresAt: number | null;
}

export function registerAccess(program: Command): void {
  const access = program.command('access').description('just-in-time access');
  withClient(
    access
      .command('request')
      .description('request time-bound access to a connection')
      .argument('<connection>')
      .requiredOption('--for <duration>', 'how long, e.g. 30m')
      .requiredOption('--reason <text>', 'why'),
  ).action(async (connection: string, opts: ClientOptions & { for: string; reason: string }) => {
    const api = ApiClient.from(opts);
    const { request: r } = await api.request<{ request: AccessRequestView }>('POST', '/api/v1/access-requests', {
      connection,
      duration: opts.for,
      reason: opts.reason,
    });
    if (opts.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    process.stdout.write(
      `access request ${t(r.id)}: ${t(r.state)}; needs ${r.approversRequired.count} approval(s) from ${r.approversRequired.groups.map(t).join(', ')}\n`,
    );
  });
  withClient(
    access
      .command('list', { isDefault: true })
      .description('access requests and grants')
      .option('--state <s>', 'pending|approved|denied|revoked|expired|all', 'all'),
  ).action(async (opts: ClientOptions & { state: string }) => {
    const api = ApiClient.from(opts);
    const { requests } = await api.request<{ requests: AccessRequestView[] }>(
      'GET',
      `/api/v1/access-requests?state=${encodeURIComponent(opts.state)}`,
    );
    if (opts.json) return void process.stdout.write(`${JSON.stringify(requests, null, 2)}\n`);
    process.stdout.write(
      table(
        ['ID', 'STATE', 'WHO', 'CONNECTION', 'FOR', 'EXPIRES', 'REASON'],
        requests.map((r) => [
          r.id,
          r.state,
          r.sub,
          r.connection,
          `${Math.round(r.durationMs / 60000)}m`,
          r.expiresAt ? new Date(r.expiresAt).toISOString() : '-',
          r.reason,
        ]),
      ),
    );
  });
  for (const verb of ['approve', 'deny', 'revoke'] as const) {
    withClient(
      access.command(verb).argument('<id>').description(`${verb} an access request`).option('--reason <text>', 'why'),
    ).action(async (id: string, opts: ClientOptions & { reason?: string }) => {
      const api = ApiClient.from(opts);
      const { request: r } = await api.request<{ request: AccessRequestView }>(
        'POST',
        `/api/v1/access-requests/${encodeURIComponent(id)}/${verb}`,
        {
          ...(opts.reason ? { reason: opts.reason } : {}),
        },
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.stdout.write(
        `access request ${t(r.id)}: ${t(r.state)}${r.expiresAt ? ` until ${new Date(r.expiresAt).toISOString()}` : ''}\n`,
      );
    });
  }
}
