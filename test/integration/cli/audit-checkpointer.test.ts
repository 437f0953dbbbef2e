// The checkpointer on real stores: a checkpoint after `every` entries or once `interval` passed,
// none when nothing is new, each one in the store, in the file and POSTed to a real webhook
// server; every one verifies and anchors the chain.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AuditLog,
  type Checkpoint,
  Checkpointer,
  CheckpointSigner,
  checkpointSignatureValid,
  parseCheckpointFile,
  storedCheckpoints,
  verifyChain,
} from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { createLogger } from '../../../src/gateway/index.js';
import type { Store } from '../../../src/store/index.js';
import { BACKENDS, type StoreBackend } from '../store/backends.js';

const until = async (what: string, cond: () => Promise<boolean>) => {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
};

for (const backend of BACKENDS) {
  describe(`audit checkpointer on ${backend.name}`, () => {
    let b: StoreBackend;
    let store: Store;
    let dir = '';
    let hook: Server;
    let hookUrl = '';
    const posted: { type: string; checkpoint: Checkpoint }[] = [];

    before(async () => {
      b = await backend.start();
      store = await b.open();
      dir = await mkdtemp(join(tmpdir(), 'warden-checkpointer-'));
      hook = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          posted.push(JSON.parse(body));
          res.end();
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/anchors`;
    });
    after(async () => {
      await store?.close();
      await b?.stop();
      hook?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('signs after every N entries and after the interval, never twice for one entry', async () => {
      const clock = new ManualClock();
      const audit = new AuditLog(store, { clock });
      const file = join(dir, 'checkpoints.jsonl');
      const signer = await CheckpointSigner.load(dir);
      assert.equal((await stat(join(dir, 'audit-checkpoint-key.pem'))).mode & 0o777, 0o600);
      const again = await CheckpointSigner.load(dir);
      assert.equal(again.keyId, signer.keyId, 'the key is kept, not regenerated');
      const cp = new Checkpointer({
        db: store.db,
        signer,
        committed: () => audit.commits.entries,
        every: 5,
        intervalMs: 60_000,
        file,
        webhook: hookUrl,
        logger: createLogger({ level: 'silent' }),
        clock,
      });
      cp.start();
      try {
        for (let i = 0; i < 5; i++) await audit.append({ type: 'operation', actor: 'a', data: { i } });
        await until('a checkpoint after 5 entries', async () => (await storedCheckpoints(store.db)).length === 1);
        assert.equal((await storedCheckpoints(store.db))[0]!.seq, 5);

        // Two more entries: not yet (neither 5 entries nor the interval).
        for (let i = 0; i < 2; i++) await audit.append({ type: 'operation', actor: 'a', data: { i } });
        await new Promise((r) => setTimeout(r, 600));
        assert.equal((await storedCheckpoints(store.db)).length, 1);
        clock.advance(60_000);
        await until('a checkpoint after the interval', async () => (await storedCheckpoints(store.db)).length === 2);
        assert.equal((await storedCheckpoints(store.db))[1]!.seq, 7);

        // Nothing new, the interval passes again: nothing signed; an explicit one neither.
        clock.advance(60_000);
        await new Promise((r) => setTimeout(r, 600));
        assert.equal(await cp.checkpoint(), undefined);
        assert.equal((await storedCheckpoints(store.db)).length, 2);
      } finally {
        await cp.close();
      }

      const stored = await storedCheckpoints(store.db);
      const fromFile = parseCheckpointFile(await readFile(file, 'utf8'));
      assert.deepEqual(fromFile.unreadable, []);
      assert.deepEqual(fromFile.checkpoints, stored);
      await until('both webhook posts', async () => posted.length === 2);
      assert.deepEqual(
        posted.map((p) => [p.type, p.checkpoint.seq]),
        [
          ['audit.checkpoint', 5],
          ['audit.checkpoint', 7],
        ],
      );
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      for (const c of stored) assert.ok(checkpointSignatureValid(c));
      assert.ok(!checkpointSignatureValid({ ...stored[0]!, seq: 6 }), 'the signature covers seq');
      assert.ok(!checkpointSignatureValid({ ...stored[0]!, at: stored[0]!.at + 1 }), 'and the time');

      const v = await verifyChain(store.db);
      assert.equal(v.ok, true);
      assert.deepEqual([v.checked, v.checkpoints?.verified, v.checkpoints?.latest?.seq], [7, 2, 7]);
    });
  });
}
