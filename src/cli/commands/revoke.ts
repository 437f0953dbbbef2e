import type { Command } from 'commander';
import { displayText as t } from '../../core/display-text.js';
import { ApiClient, type ClientOptions } from '../client.js';
import { CliExit } from '../exit.js';
import { withClient } from '../options.js';
import { table } from '../table.js';

interface RevocationView {
  kind: 'token' | 'sub';
  value: string;
  issuer?: string;
  at: number;
  reason: string;
}

type RevokeOptions = ClientOptions & { tokenId?: string; sub?: string; issuer?: string; reason?: string };

/**
 * `warden revoke (--token-id JTI | --sub SUB) [--issuer ISS] [--reason …]` (admins), and
 * `warden revoke list`. The gateway picks the issuer when it trusts exactly one; with several a
 * subject revocation needs --issuer (the gateway answers 400, which exits 2).
 */
export function registerRevoke(program: Command): void {
  const revoke = withClient(
    program
      .command('revoke')
      .description('revoke a token, or every token of a subject (admins); live sessions are cut at their next message')
      .option('--token-id <jti>', 'the token id (jti) to revoke')
      .option('--sub <sub>', 'revoke every token of this subject')
      .option('--issuer <url>', 'the issuer of that token or subject (needed when several are configured)')
      .option('--reason <text>', 'why (kept in the audit log)'),
  ).action(async (opts: RevokeOptions) => {
    if ((opts.tokenId === undefined) === (opts.sub === undefined)) {
      throw new CliExit(2, 'warden revoke: name exactly one of --token-id and --sub');
    }
    for (const [flag, v] of [
      ['--token-id', opts.tokenId],
      ['--sub', opts.sub],
      ['--issuer', opts.issuer],
    ] as const) {
      if (v !== undefined && v.trim() === '') throw new CliExit(2, `warden revoke: ${flag} must not be empty`);
    }
    const api = ApiClient.from(opts);
    const { revocation: r } = await api.request<{ revocation: RevocationView }>('POST', '/api/v1/revocations', {
      ...(opts.tokenId !== undefined ? { tokenId: opts.tokenId } : {}),
      ...(opts.sub !== undefined ? { sub: opts.sub } : {}),
      ...(opts.issuer !== undefined ? { issuer: opts.issuer } : {}),
      ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    });
    if (opts.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    const what = r.kind === 'sub' ? `every token of subject ${t(r.value)}` : `token ${t(r.value)}`;
    process.stdout.write(`revoked ${what} (issuer ${t(r.issuer ?? 'any')})\n`);
  });

  revoke
    .command('list')
    .description('list revocations (admins); takes the --gateway, --token and --json of `revoke`')
    .option('--limit <n>', 'how many', '100')
    .action(async (_own: { limit: string }, cmd: Command) => {
      // The client options are declared once, on `revoke`; commander hands them to it wherever
      // they appear on the line.
      const opts = cmd.optsWithGlobals() as ClientOptions & { limit: string };
      const api = ApiClient.from(opts);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new CliExit(2, 'warden revoke list: --limit must be a positive integer');
      const { revocations: rows } = await api.request<{ revocations: RevocationView[] }>(
        'GET',
        `/api/v1/revocations?limit=${limit}`,
      );
      if (opts.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      process.stdout.write(
        table(
          ['KIND', 'VALUE', 'ISSUER', 'AT', 'REASON'],
          rows.map((r) => [r.kind, r.value, r.issuer ?? '(any)', new Date(r.at).toISOString(), r.reason]),
        ),
      );
    });
}
