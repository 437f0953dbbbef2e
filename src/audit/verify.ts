// Walks the chain in seq order, a page at a time, and names the first entry that fails; then
// holds the chain against its signed checkpoints, so a deleted tail (which leaves a shorter but
// intact chain) is caught too.
import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import { chainHash, GENESIS_HASH } from './chain.js';
import { type Checkpoint, checkpointSignatureValid } from './checkpoint.js';
import { type DigestEntry, RECORDING_DIGEST_TYPE } from './recording-digest.js';

export type VerifyFailure =
  | 'hash-mismatch'
  | 'broken-link'
  | 'missing'
  | 'reordered'
  | 'checkpoint-mismatch'
  | 'truncated';

export interface VerifyResult {
  ok: boolean;
  /** Entries that verified before the first failure (all of them when ok). */
  checked: number;
  /**
   * The first entry that fails. `missing`: the entry right after a gap in seq (rows before it
   * were deleted). `reordered`: its link points at an entry that sits elsewhere in the log.
   * `broken-link`: its link points at no entry (an entry before it was rewritten or removed
   * and renumbered). `hash-mismatch`: its own fields were edited. `checkpoint-mismatch`: a signed
   * checkpoint names this seq with another hash (the chain was rewritten from here on).
   * `truncated`: a signed checkpoint names an entry past the end of the log (`id` null: the
   * entries from `seq` to `checkpoint.seq` were deleted).
   */
  firstBad?: {
    seq: number;
    id: string | null;
    reason: VerifyFailure;
    checkpoint?: { seq: number; at: number; keyId: string };
  };
  /** Present when there are checkpoints (a store from before anchors, or one not signed yet, has none). */
  checkpoints?: CheckpointReport;
}

export interface CheckpointReport {
  /** Checkpoints found (store and file). */
  total: number;
  /** Checkpoints with a good signature from a trusted key that match the chain. */
  verified: number;
  /** The newest checkpoint with a good signature. */
  latest?: { seq: number; at: number; keyId: string };
  /** Entries after the newest good checkpoint (not anchored yet). */
  unanchored?: number;
  /** Checkpoints whose signature does not verify, or signed by a key not in `trustedKeys`. */
  bad: { seq: number; at: number; keyId: string; reason: 'bad-signature' | 'untrusted-key' }[];
  /** Key ids that signed the good checkpoints (compare with `warden audit public-key`). */
  keys: string[];
}

export interface VerifyOptions {
  /** Checkpoints from outside the store (a checkpoint file), checked with the store's own. */
  checkpoints?: Checkpoint[];
  /** Trusted signer keys (SPKI DER base64); when given, any other signer is reported. */
  trustedKeys?: string[];
  /** Collects the audited recording digests (for checkRecordings). */
  onDigest?: (d: DigestEntry) => void;
}

const PAGE = 1000;

/** The store's checkpoints; none when the table does not exist (a store from before 0006). */
export async function storedCheckpoints(db: Kysely<Database>): Promise<Checkpoint[]> {
  try {
    const rows = await db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'asc').execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      hash: r.hash,
      at: Number(r.at),
      keyId: r.key_id,
      publicKey: r.public_key,
      signature: r.signature,
    }));
  } catch (e) {
    if (/no such table|does not exist/.test(String((e as Error).message))) return [];
    throw e;
  }
}

export async function verifyChain(db: Kysely<Database>, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const all = dedupe([...(await storedCheckpoints(db)), ...(opts.checkpoints ?? [])]);
  const trusted = opts.trustedKeys ? new Set(opts.trustedKeys) : undefined;
  const report: CheckpointReport = { total: all.length, verified: 0, bad: [], keys: [] };
  /** Good checkpoints by seq (several signers may have anchored the same entry). */
  const anchors = new Map<number, Checkpoint[]>();
  let newest: Checkpoint | undefined;
  for (const c of all) {
    const reason = !checkpointSignatureValid(c)
      ? 'bad-signature'
      : trusted && !trusted.has(c.publicKey)
        ? 'untrusted-key'
        : undefined;
    if (reason) {
      report.bad.push({ seq: c.seq, at: c.at, keyId: c.keyId, reason });
      continue;
    }
    anchors.set(c.seq, [...(anchors.get(c.seq) ?? []), c]);
    if (!report.keys.includes(c.keyId)) report.keys.push(c.keyId);
    if (!newest || c.seq > newest.seq || (c.seq === newest.seq && c.at > newest.at)) newest = c;
  }
  if (newest) report.latest = { seq: newest.seq, at: newest.at, keyId: newest.keyId };
  const brief = (c: Checkpoint) => ({ seq: c.seq, at: c.at, keyId: c.keyId });

  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let checked = 0;
  const done = (r: Omit<VerifyResult, 'checkpoints'>): VerifyResult => ({
    ...r,
    ok: r.ok && report.bad.length === 0,
    ...(report.total > 0 ? { checkpoints: report } : {}),
  });
  for (;;) {
    const rows = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>=', expectedSeq)
      .orderBy('seq', 'asc')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      const seq = Number(row.seq);
      const bad = (reason: VerifyFailure, checkpoint?: Checkpoint): VerifyResult =>
        done({
          ok: false,
          checked,
          firstBad: { seq, id: row.id, reason, ...(checkpoint ? { checkpoint: brief(checkpoint) } : {}) },
        });
      if (seq !== expectedSeq) return bad('missing');
      const fields = {
        id: row.id,
        at: Number(row.at),
        type: row.type,
        actor: row.actor,
        session: row.session,
        connection: row.connection,
      };
      if (chainHash(row.prev_hash, fields, row.data) !== row.hash) return bad('hash-mismatch');
      if (row.prev_hash !== prev) {
        const linked = await db
          .selectFrom('audit_log')
          .select('seq')
          .where('hash', '=', row.prev_hash)
          .executeTakeFirst();
        return bad(linked ? 'reordered' : 'broken-link');
      }
      const mismatch = anchors.get(seq)?.find((c) => c.hash !== row.hash);
      if (mismatch) return bad('checkpoint-mismatch', mismatch);
      report.verified += anchors.get(seq)?.length ?? 0;
      if (opts.onDigest && row.type === RECORDING_DIGEST_TYPE) collectDigest(seq, row, opts.onDigest);
      prev = row.hash;
      expectedSeq++;
      checked++;
    }
    if (rows.length < PAGE) break;
  }
  if (newest && newest.seq >= expectedSeq) {
    // The log ends before an entry a signed checkpoint saw: its newest rows were deleted.
    return done({
      ok: false,
      checked,
      firstBad: { seq: expectedSeq, id: null, reason: 'truncated', checkpoint: brief(newest) },
    });
  }
  if (newest) report.unanchored = checked - newest.seq;
  return done({ ok: true, checked });
}

function collectDigest(
  seq: number,
  row: { session: string | null; data: string },
  onDigest: NonNullable<VerifyOptions['onDigest']>,
): void {
  const d = JSON.parse(row.data) as { sha256?: unknown; file?: unknown };
  if (typeof d.sha256 === 'string' && typeof d.file === 'string')
    onDigest({ seq, session: row.session, file: d.file, sha256: d.sha256 });
}

function dedupe(list: Checkpoint[]): Checkpoint[] {
  const seen = new Set<string>();
  return list
    .filter((c) => {
      const k = `${c.seq}/${c.keyId}/${c.hash}/${c.at}/${c.signature}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => a.seq - b.seq || a.at - b.at);
}
