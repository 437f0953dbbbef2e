import type { Command } from 'commander';
import type { AuditRecord as AuditEntry } from '../../audit/index.js';
import { type VerifyResult, verifyChain } from '../../audit/verify.js';
import { displayJson, displayText } from '../../core/display-text.js';
import { openStoreReadOnly } from '../../store/index.js';
import { ApiClient, type ClientOptions } from '../client.js';
import { CliExit } from '../exit.js';
import { withClient } from '../options.js';

export function registerAudit(program: Command): void {
  const audit = withClient(
    program
      .command('audit')
      .description('the audit log; --verify checks the hash chain')
      .option('--since <when>', 'ISO time or a duration ago, e.g. 1h')
      .option('--limit <n>', 'entries', '200')
      .option('--verify', 'verify the hash chain (exit 1 when broken)'),
  ).action(async (opts: ClientOptions & { since?: string; limit: string; verify?: boolean }) => {
    const api = ApiClient.from(opts);
    if (opts.verify) {
      const v = await api.request<{
        ok: boolean;
        checked: number;
        firstBad?: { seq: number; id: string; reason: string };
      }>('GET', '/api/v1/audit/verify');
      if (opts.json) process.stdout.write(`${JSON.stringify(v)}\n`);
      if (v.ok) {
        if (!opts.json) process.stdout.write(`audit chain intact: ${v.checked} entries verified\n`);
        return;
      }
      throw new CliExit(
        1,
        `audit chain BROKEN at entry #${v.firstBad?.seq} (${displayText(String(v.firstBad?.id))}): ${displayText(String(v.firstBad?.reason))}; ${v.checked} entries checked`,
      );
    }
    const q = new URLSearchParams({ limit: String(Number(opts.limit) || 200) });
    if (opts.since) q.set('since', sinceToIso(opts.since));
    const { entries } = await api.request<{ entries: AuditEntry[] }>('GET', `/api/v1/audit?${q}`);
    if (opts.json) {
      for (const e of entries) process.stdout.write(`${JSON.stringify(e)}\n`);
      return;
    }
    // One line per entry: the operation text as a JSON string and other data as JSON, both
    // through displayJson (JSON leaves bidi, zero-width, DEL and C1 raw); names through displayText.
    for (const e of entries) {
      const d = e.data;
      const what =
        e.type === 'operation'
          ? `${displayText(String(d.effect))} ${displayText(String(d.kind))} ${displayJson(d.text)}${Array.isArray(d.rules) && d.rules.length ? ` rules=${displayText(d.rules.join(','))}` : ''}`
          : displayJson(d);
      process.stdout.write(
        `#${e.seq} ${new Date(e.at).toISOString()} ${displayText(String(e.type))} ${displayText(e.actor ?? '-')} ${displayText(e.connection ?? '-')} ${what}\n`,
      );
    }
  });

  audit
    .command('verify')
    .description('verify the hash chain straight from the store (read-only; no gateway, no token)')
    .requiredOption('--store <url>', 'sqlite:PATH (a copy of the database will do) or postgres://…')
    .option('--json', 'print JSON')
    .action(async (_local: { store: string; json?: boolean }, cmd: Command) => {
      // `--json` is also an option of `audit` itself: commander gives it to whichever it parsed.
      const opts = cmd.optsWithGlobals<{ store: string; json?: boolean }>();
      const store = openStoreReadOnly(opts.store);
      let v: VerifyResult;
      try {
        v = await verifyChain(store.db);
      } finally {
        await store.close();
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(v)}\n`);
      else if (v.ok) process.stdout.write(`audit chain intact: ${v.checked} entries verified\n`);
      if (!v.ok) {
        throw new CliExit(
          1,
          opts.json
            ? undefined
            : `audit chain BROKEN at entry #${v.firstBad?.seq} (${displayText(String(v.firstBad?.id))}): ${v.firstBad?.reason}; ${v.checked} entries verified before it`,
        );
      }
    });
}

function sinceToIso(since: string): string {
  const m = /^(\d+)(s|m|h|d)$/.exec(since);
  if (m) {
    const ms = Number(m[1]) * ({ s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 } as Record<string, number>)[m[2] as string]!;
    return new Date(Date.now() - ms).toISOString();
  }
  const t = Date.parse(since);
  if (Number.isNaN(t)) throw new CliExit(2, `warden: --since: '${since}' is neither a time nor a duration like 1h`);
  return new Date(t).toISOString();
}
