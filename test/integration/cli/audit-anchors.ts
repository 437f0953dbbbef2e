// Audit anchors through the real CLI, on a SQLite and a PostgreSQL store: the gateway signs
// checkpoints (every 5 entries here, and at shutdown) into their own table and a file outside
// the store; `warden audit verify --store` then catches what the chain alone cannot — a deleted
// tail — and reports a checkpoint with a bad or untrusted signature and a recording edited after
// its session closed. Online `warden audit --verify` reports the checkpoints too.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { runWarden } from '../../helpers/cli.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { runSql, startPostgres, type TestPostgres } from '../../helpers/postgres.js';

/** The suite for one store dialect (one file per dialect: each runs within the per-file time limit). */
export function auditAnchorSuite(dialect: 'sqlite' | 'postgres'): void {
  describe(`audit anchors (${dialect} store)`, () => {
    let target: TestPostgres;
    let storeDb: TestPostgres | undefined;
    let gw: TestGateway;
    let storeUrl = '';
    let checkpointFile = '';
    let publicKeyFile = '';
    let recording = '';
    let sessionId = '';
    let outside = '';

    /** Runs SQL on the store directly (the gateway is stopped): the attacker's or the auditor's hand. */
    async function onStore(query: string): Promise<Record<string, unknown>[]> {
      if (dialect === 'postgres') return runSql(storeDb!.url, query);
      const db = new SqliteDatabase(storeUrl.slice('sqlite:'.length));
      try {
        const st = db.prepare(query);
        if (st.reader) return st.all() as Record<string, unknown>[];
        st.run();
        return [];
      } finally {
        db.close();
      }
    }
    const verify = (...extra: string[]) => runWarden(['audit', 'verify', '--store', storeUrl, ...extra]);

    before(async () => {
      target = await startShopPostgres();
      if (dialect === 'postgres') storeDb = await startPostgres();
      outside = await mkdtemp(join(tmpdir(), 'warden-anchors-'));
      checkpointFile = join(outside, 'checkpoints.jsonl');
      gw = await startTestGateway(target, {
        ...(storeDb ? { store: storeDb.url } : {}),
        extraYaml: `audit:\n  checkpoint: { every: 5, interval: 60s, file: ${checkpointFile} }\n`,
      });
      storeUrl = storeDb ? storeDb.url : `sqlite:${join(gw.dir, 'warden.db')}`;
      publicKeyFile = join(gw.dir, 'data', 'audit-checkpoint-key.pub.pem');
      const client = new pg.Client(gw.url(await gw.token('anchored', ['agents'])));
      await client.connect();
      for (let i = 0; i < 12; i++) assert.equal((await client.query(`SELECT ${i} AS n`)).rows[0].n, i);
      await client.end();
      // The session's close (its recording digest) is audited as the client goes.
      for (let i = 0; i < 200; i++) {
        const rows = await gw.running.gateway.audit.list({ type: 'recording.digest' });
        if (rows.length > 0) {
          sessionId = rows[0]!.session!;
          // The entry names the file only (the API serves no server paths); it is in the recordings dir.
          assert.equal(rows[0]!.data.path, undefined);
          recording = join(gw.dir, 'recordings', String(rows[0]!.data.file));
          break;
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(recording, 'a recording digest was audited at session close');
    });
    after(async () => {
      await gw?.stop();
      await storeDb?.stop();
      await target?.stop();
      if (outside) await rm(outside, { recursive: true, force: true });
    });

    it('online `warden audit --verify` names the latest checkpoint', async () => {
      const admin = await gw.token('auditor', ['admins']);
      const r = await runWarden(['audit', '--verify', '--gateway', gw.apiUrl, '--token', admin]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /audit chain intact: \d+ entries verified/);
      // Checkpoints by now (how many depends on how the commits fell between ticks), all matching.
      const m = /checkpoints: (\d+) of (\d+) match the chain; latest #\d+/.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.ok(Number(m[1]) >= 1 && m[1] === m[2], r.stdout);
      await gw.stop({ keepDir: true });
    });

    it('the signing key lives in dataDir (0600) and `warden audit public-key` exports it', async () => {
      const key = await stat(join(gw.dir, 'data', 'audit-checkpoint-key.pem'));
      assert.equal(key.mode & 0o777, 0o600);
      const r = await runWarden(['audit', 'public-key', '-c', gw.configPath], { env: gw.env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^-----BEGIN PUBLIC KEY-----/);
      assert.equal(r.stdout, await readFile(publicKeyFile, 'utf8'));
      assert.doesNotMatch(r.stdout, /PRIVATE/);
    });

    it('an intact store verifies against the stored and the file checkpoints and the recording digest', async () => {
      const r = await verify('--checkpoints', checkpointFile, '--public-key', publicKeyFile);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /audit chain intact/);
      assert.match(r.stdout, /latest #\d+ signed .* by key [0-9a-f]{16}; 0 entries after it/);
      assert.match(r.stdout, /recordings: 1 checked against their audited digest, 0 edited/);
      // The shutdown checkpoint anchors the last entry; the file holds the same checkpoints as the store.
      const checked = Number(/intact: (\d+) entries/.exec(r.stdout)![1]);
      const lines = (await readFile(checkpointFile, 'utf8')).trim().split('\n').length;
      assert.match(r.stdout, new RegExp(`checkpoints: ${lines} of ${lines} match the chain; latest #${checked} `));
    });

    it('a recording edited after its session closed is reported (exit 1)', async () => {
      // SQLite: a file in the recordings folder. PostgreSQL: chunks in the store (recordingStore
      // defaults to database there), edited in place.
      const chunks = `FROM recording_chunks WHERE session_id = '${sessionId}'`;
      const original = dialect === 'postgres' ? undefined : await readFile(recording);
      const saved = dialect === 'postgres' ? await onStore(`SELECT seq, encode(data, 'base64') AS b ${chunks}`) : [];
      if (original) await writeFile(recording, original.toString().replace('SELECT 3', 'SELECT 4'));
      else
        await onStore(
          `UPDATE recording_chunks SET data = convert_to(replace(convert_from(data, 'UTF8'), 'SELECT 3', 'SELECT 4'), 'UTF8') WHERE session_id = '${sessionId}'`,
        );
      try {
        const r = await verify();
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          new RegExp(`recording of session ${sessionId} .* was EDITED after its digest was audited`),
        );
      } finally {
        if (original) await writeFile(recording, original);
        for (const c of saved)
          await onStore(
            `UPDATE recording_chunks SET data = decode('${String(c.b)}', 'base64') WHERE session_id = '${sessionId}' AND seq = ${Number(c.seq)}`,
          );
      }
    });

    it('a checkpoint with a bad signature is reported (exit 1)', async () => {
      const [row] = await onStore('SELECT seq, signature FROM audit_checkpoints ORDER BY seq LIMIT 1');
      const sig = String(row!.signature);
      const forged = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
      await onStore(`UPDATE audit_checkpoints SET signature = '${forged}' WHERE seq = ${row!.seq}`);
      try {
        const r = await verify();
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`checkpoint #${row!.seq} .*BAD SIGNATURE`));
      } finally {
        await onStore(`UPDATE audit_checkpoints SET signature = '${sig}' WHERE seq = ${row!.seq}`);
      }
    });

    it('checkpoints signed by a key the auditor does not trust are reported', async () => {
      const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const r = await verify('--public-key', other);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /signed by a key that is not trusted/);
    });

    it('a deleted tail is caught through the checkpoint, and through the file when the stored ones go too', async () => {
      const [{ n }] = (await onStore('SELECT max(seq) AS n FROM audit_log')) as [{ n: number }];
      const last = Number(n);
      await onStore(`DELETE FROM audit_log WHERE seq > ${last - 3}`);
      const j = JSON.parse((await verify('--json')).stdout);
      assert.deepEqual(
        [j.ok, j.firstBad.reason, j.firstBad.seq, j.firstBad.checkpoint.seq],
        [false, 'truncated', last - 2, last],
      );

      // An attacker who also removes the checkpoints past the new end still meets the file.
      await onStore(`DELETE FROM audit_checkpoints WHERE seq > ${last - 3}`);
      const withFile = await verify('--checkpoints', checkpointFile);
      assert.equal(withFile.code, 1);
      assert.match(
        withFile.stderr,
        new RegExp(
          `audit chain TRUNCATED: checkpoint #${last} .* the log ends at #${last - 3}: entries #${last - 2}–#${last} were deleted`,
        ),
      );
    });
  });
}
