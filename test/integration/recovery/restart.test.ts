// Crash recovery: `warden start` is killed with SIGKILL while sessions are open, one of them
// holding an operation for review; the next start closes them as `gateway restarted` (audited),
// expires the held operation's review with its reason (audited), the chain verifies, and the
// counts match.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { freePort } from '../../../src/gateway/index.js';
import { runWarden, startWardenProcess } from '../../helpers/cli.js';
import { HOLD_POLICY, startShopPostgres } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';

describe('crash recovery', () => {
  let target: TestPostgres;
  let dir: string;
  let config: string;
  let pgPort: number;
  const children: ChildProcess[] = [];
  const env = () => ({ ...process.env, SHOP_PW: target.password, WARDEN_QUIET_SOURCE: '1' });

  async function startWarden(): Promise<ChildProcess> {
    const child = await startWardenProcess(config, env());
    children.push(child);
    return child;
  }

  before(async () => {
    target = await startShopPostgres();
    dir = await mkdtemp(join(tmpdir(), 'warden-recovery-'));
    config = join(dir, 'warden.yaml');
    pgPort = await freePort();
    await writeFile(
      config,
      `listen: { api: 127.0.0.1:${await freePort()}, postgres: 127.0.0.1:${pgPort} }
store: sqlite:${join(dir, 'data', 'warden.db')}
recordings: ${join(dir, 'data', 'recordings')}
dataDir: ${join(dir, 'data')}
identity: { dev: true }
connections:
  shop: { type: postgres, host: 127.0.0.1, port: ${target.port}, database: ${target.database}, user: ${target.user}, password: '\${env:SHOP_PW}', tls: disable }
${HOLD_POLICY}`,
    );
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sessions open at a SIGKILL are closed as `gateway restarted` at the next start', async () => {
    const first = await startWarden();
    const minted = await runWarden(['token', '--sub', 'crashy', '--groups', 'agents', '-c', config], { env: env() });
    assert.equal(minted.code, 0, minted.stderr);
    const token = minted.stdout.trim();
    const clients: pg.Client[] = [];
    for (let i = 0; i < 3; i++) {
      const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'a', password: token, database: 'shop' });
      c.on('error', () => {});
      await c.connect();
      assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1);
      clients.push(c);
    }
    // A fourth session waits in a hold when the process dies.
    const held = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'a', password: token, database: 'shop' });
    held.on('error', () => {});
    await held.connect();
    clients.push(held);
    const waiting = held.query("UPDATE orders SET status = 'paid' WHERE id = 1").catch((e: Error) => e);
    const storeFile = join(dir, 'data', 'warden.db');
    let reviewId = '';
    for (let i = 0; i < 400 && !reviewId; i++) {
      const ro = new SqliteDatabase(storeFile, { readonly: true });
      const r = ro.prepare("SELECT id FROM reviews WHERE requester_sub = 'crashy' AND state = 'pending'").get() as
        | { id: string }
        | undefined;
      ro.close();
      if (r) reviewId = r.id;
      else await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(reviewId, 'the update is held for review');
    const exited = new Promise((r) => first.once('exit', r));
    first.kill('SIGKILL');
    await exited;
    assert.ok((await waiting) instanceof Error, 'the held client loses its connection with the process');
    for (const c of clients) await c.end().catch(() => {});

    const second = await startWarden();
    const db = new SqliteDatabase(join(dir, 'data', 'warden.db'), { readonly: true });
    try {
      const sessions = db.prepare('SELECT ended_at, end_reason FROM sessions WHERE sub = ?').all('crashy') as {
        ended_at: number | null;
        end_reason: string | null;
      }[];
      assert.equal(sessions.length, 4);
      for (const s of sessions) {
        assert.notEqual(s.ended_at, null);
        assert.equal(s.end_reason, 'gateway restarted');
      }
      const ends = db.prepare("SELECT data FROM audit_log WHERE type = 'session.end' AND actor = 'crashy'").all() as {
        data: string;
      }[];
      assert.equal(ends.length, 4, 'each recovered session is audited');
      for (const e of ends) assert.equal(JSON.parse(e.data).reason, 'gateway restarted');
      const ops = db
        .prepare("SELECT count(*) AS n FROM audit_log WHERE type = 'operation' AND actor = 'crashy'")
        .get() as {
        n: number;
      };
      assert.equal(ops.n, 3, 'every answered statement is in the audit log (the held one was never answered)');
      const review = db.prepare('SELECT state FROM reviews WHERE id = ?').get(reviewId) as { state: string };
      assert.equal(review.state, 'expired', 'a hold lost with the process is expired, not left pending');
      const expiry = db
        .prepare("SELECT data FROM audit_log WHERE type = 'review.expired' AND actor = 'crashy'")
        .all() as { data: string }[];
      assert.equal(expiry.length, 1);
      assert.deepEqual(
        [JSON.parse(expiry[0]!.data).review, JSON.parse(expiry[0]!.data).reason],
        [reviewId, 'gateway restarted while the operation was held'],
      );
      const digests = db
        .prepare("SELECT count(*) AS n FROM audit_log WHERE type = 'recording.digest' AND actor = 'crashy'")
        .get() as { n: number };
      assert.equal(digests.n, 4, 'each recovered recording is anchored as the crash left it');
    } finally {
      db.close();
    }
    const verified = await runWarden(['audit', 'verify', '--store', `sqlite:${join(dir, 'data', 'warden.db')}`]);
    assert.equal(verified.code, 0, verified.stderr);
    second.kill('SIGTERM');
  });
});
