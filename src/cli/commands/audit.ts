import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import {
  type AuditRecord as AuditEntry,
  CHECKPOINT_PUBLIC_KEY_FILE,
  type Checkpoint,
  checkRecordings,
  type DigestEntry,
  parseCheckpointFile,
  parsePublicKey,
  type RecordingCheck,
  type VerifyResult,
  verifyChain,
} from '../../audit/index.js';
import { loadConfigFile } from '../../config/index.js';
import { displayJson, displayText } from '../../core/display-text.js';
import { openRecording, recordingName } from '../../recording/index.js';
import { type Database, openStoreReadOnly } from '../../store/index.js';
import { ApiClient, type ClientOptions } from '../client.js';
import { CliExit } from '../exit.js';
import { withClient, withConfig } from '../options.js';

export function registerAudit(program: Command): void {
  const audit = withClient(
    program
      .command('audit')
      .description('the audit log; --verify checks the hash chain and its signed checkpoints')
      .option('--since <when>', 'ISO time or a duration ago, e.g. 1h')
      .option('--limit <n>', 'entries', '200')
      .option('--verify', 'verify the hash chain against its checkpoints (exit 1 when broken)'),
  ).action(async (opts: ClientOptions & { since?: string; limit: string; verify?: boolean }) => {
    const api = ApiClient.from(opts);
    if (opts.verify) {
      const v = await api.request<VerifyResult>('GET', '/api/v1/audit/verify');
      if (opts.json) process.stdout.write(`${JSON.stringify(v)}\n`);
      report(v, undefined, !!opts.json);
      return;
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
    .description(
      "verify the hash chain straight from the store (read-only; no gateway, no token), against its signed checkpoints and the recordings' digests",
    )
    .requiredOption('--store <url>', 'sqlite:PATH (a copy of the database will do) or postgres://…')
    .option('--checkpoints <file>', 'a checkpoint file written outside the store (audit.checkpoint.file)')
    .option(
      '--public-key <key>',
      'a trusted checkpoint signer: PEM or base64 SPKI, or a file holding it (repeatable; default: trust the keys the checkpoints name)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--recordings <dir>', 'look for recordings here (by file name) instead of where the gateway wrote them')
    .option('--json', 'print JSON')
    .action(async (_local: unknown, cmd: Command) => {
      // `--json` is also an option of `audit` itself: commander gives it to whichever it parsed.
      const opts = cmd.optsWithGlobals<{
        store: string;
        checkpoints?: string;
        publicKey: string[];
        recordings?: string;
        json?: boolean;
      }>();
      const trustedKeys = await Promise.all(opts.publicKey.map(readPublicKey));
      let fileCheckpoints: Checkpoint[] | undefined;
      if (opts.checkpoints) {
        const text = await readFile(opts.checkpoints, 'utf8').catch((e: Error) => {
          throw new CliExit(2, `warden: --checkpoints: ${e.message}`);
        });
        const parsed = parseCheckpointFile(text);
        if (parsed.unreadable.length > 0)
          throw new CliExit(
            1,
            `checkpoint file ${opts.checkpoints}: unreadable line(s) ${parsed.unreadable.join(', ')}`,
          );
        fileCheckpoints = parsed.checkpoints;
      }
      const store = openStoreReadOnly(opts.store);
      const digests: DigestEntry[] = [];
      let v: VerifyResult;
      let recordings: RecordingCheck;
      try {
        v = await verifyChain(store.db, {
          ...(fileCheckpoints ? { checkpoints: fileCheckpoints } : {}),
          ...(trustedKeys.length > 0 ? { trustedKeys } : {}),
          onDigest: (d) => digests.push(d),
        });
        if (!opts.recordings) await locateRecordings(store, digests);
        // Files are read where they are (or in --recordings); recordings kept in the store, from it.
        recordings = await checkRecordings(digests, {
          ...(opts.recordings ? { dir: opts.recordings } : {}),
          open: (path) => openRecording(path, { db: store.db }),
        });
      } finally {
        await store.close();
      }
      if (opts.json)
        process.stdout.write(`${JSON.stringify({ ...v, ok: v.ok && recordingsOk(recordings, opts), recordings })}\n`);
      report(v, { check: recordings, strict: !!opts.recordings }, !!opts.json);
    });

  withConfig(
    audit
      .command('public-key')
      .description("print the public key that signs this gateway's audit checkpoints (PEM), for auditors"),
  ).action(async (_local: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<{ config: string }>();
    const { config } = await loadConfigFile(opts.config, { secretsIn: [] });
    const file = join(config.dataDir, CHECKPOINT_PUBLIC_KEY_FILE);
    const pem = await readFile(file, 'utf8').catch(() => {
      throw new CliExit(
        1,
        `no checkpoint key yet in ${config.dataDir} (it is generated when the gateway first starts)`,
      );
    });
    process.stdout.write(pem);
  });
}

async function readPublicKey(value: string): Promise<string> {
  const text = /^-----BEGIN|^[A-Za-z0-9+/=]{40,}$/.test(value.trim())
    ? value
    : await readFile(value, 'utf8').catch((e: Error) => {
        throw new CliExit(2, `warden: --public-key: ${e.message}`);
      });
  try {
    return parsePublicKey(text);
  } catch (e) {
    throw new CliExit(2, `warden: --public-key: ${(e as Error).message}`);
  }
}

function recordingsOk(r: RecordingCheck, opts: { recordings?: string }): boolean {
  return r.edited.length === 0 && (!opts.recordings || r.missing.length === 0);
}

const iso = (at: number) => new Date(at).toISOString();

/**
 * Prints the verdict (text unless `json`) and ends with exit 1 on any failure: a broken or
 * truncated chain, a checkpoint with a bad or untrusted signature, an edited recording (a
 * missing one only when `strict`: the recordings were said to be there).
 */
function report(
  v: VerifyResult,
  recordings: { check: RecordingCheck; strict: boolean } | undefined,
  json: boolean,
): void {
  const out: string[] = [];
  const errors: string[] = [];
  const cp = v.checkpoints;
  const bad = v.firstBad;
  if (bad?.reason === 'truncated' && bad.checkpoint) {
    errors.push(
      `audit chain TRUNCATED: checkpoint #${bad.checkpoint.seq} (signed ${iso(bad.checkpoint.at)} by key ${displayText(bad.checkpoint.keyId)}) saw entries the log no longer has; the log ends at #${bad.seq - 1}: entries #${bad.seq}–#${bad.checkpoint.seq} were deleted; ${v.checked} entries verified before it`,
    );
  } else if (bad) {
    const why =
      bad.reason === 'checkpoint-mismatch' && bad.checkpoint
        ? `checkpoint-mismatch (the checkpoint signed ${iso(bad.checkpoint.at)} by key ${displayText(bad.checkpoint.keyId)} names another hash for it: the chain was rewritten)`
        : displayText(String(bad.reason));
    errors.push(
      `audit chain BROKEN at entry #${bad.seq} (${displayText(String(bad.id))}): ${why}; ${v.checked} entries verified before it`,
    );
  } else out.push(`audit chain intact: ${v.checked} entries verified`);
  for (const b of cp?.bad ?? []) {
    errors.push(
      `checkpoint #${b.seq} (signed ${iso(b.at)}, key ${displayText(b.keyId)}): ${b.reason === 'bad-signature' ? 'BAD SIGNATURE' : 'signed by a key that is not trusted'}`,
    );
  }
  if (cp?.latest && !bad)
    out.push(
      `checkpoints: ${cp.verified} of ${cp.total} match the chain; latest #${cp.latest.seq} signed ${iso(cp.latest.at)} by key ${cp.keys.map(displayText).join(', ')}; ${cp.unanchored ?? 0} entries after it`,
    );
  else if (!cp?.latest) out.push('no signed checkpoint: a deleted tail of the log cannot be detected');
  if (recordings) {
    const r = recordings.check;
    out.push(
      `recordings: ${r.checked} checked against their audited digest, ${r.edited.length} edited, ${r.missing.length} not found`,
    );
    for (const e of r.edited)
      errors.push(
        `recording of session ${displayText(String(e.session))} (${displayText(e.path)}) was EDITED after its digest was audited (entry #${e.seq})`,
      );
    if (recordings.strict)
      for (const m of r.missing)
        errors.push(
          `recording of session ${displayText(String(m.session))} not found at ${displayText(m.path)} (entry #${m.seq})`,
        );
  }
  if (!json) for (const line of out) process.stdout.write(`${line}\n`);
  if (errors.length > 0) throw new CliExit(1, json ? undefined : errors.join('\n'));
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

/** Where each digested recording is: its session's recording path, as the store holds it. */
async function locateRecordings(store: { db: Kysely<Database> }, digests: DigestEntry[]): Promise<void> {
  const ids = [...new Set(digests.map((d) => d.session).filter((s): s is string => s !== null))];
  const paths = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await store.db
      .selectFrom('sessions')
      .select(['id', 'recording_path'])
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) if (r.recording_path) paths.set(r.id, r.recording_path);
  }
  for (const d of digests) {
    const path = d.session ? paths.get(d.session) : undefined;
    if (path && recordingName(path) === d.file) d.path = path;
  }
}
