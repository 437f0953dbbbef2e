// `warden audit verify --store URL`: an auditor with only a copy of the database checks the
// chain without a gateway or a token. Intact → exit 0; an edited or deleted entry → exit 1 naming
// it; the copy is opened read-only (never migrated or written).
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { parseConfig } from '../../../src/config/index.js';
import { createLogger } from '../../../src/gateway/index.js';
import { startGateway } from '../../../src/server/index.js';
import { runWarden } from '../../helpers/cli.js';

describe('warden audit verify --store (offline)', () => {
  let dir = '';
  let original = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warden-verify-'));
    original = join(dir, 'warden.db');
    const { config } = parseConfig(
      `listen: { api: 127.0.0.1:0 }\nstore: sqlite:${original}\nrecordings: ${join(dir, 'rec')}\ndataDir: ${join(dir, 'data')}\n`,
      { baseDir: dir, env: {} },
    );
    const running = await startGateway(config, { logger: createLogger({ level: 'silent' }) });
    for (let i = 0; i < 20; i++) {
      await running.gateway.audit.append({ type: 'operation', actor: `agent-${i}`, data: { op: `op_${i}`, n: i } });
    }
    await running.close();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function copy(name: string): Promise<string> {
    const path = join(dir, name);
    await copyFile(original, path);
    return path;
  }

  it('an intact copy verifies (exit 0, JSON for tools) and is not written', async () => {
    const path = await copy('intact.db');
    const before = (await stat(path)).mtimeMs;
    const r = await runWarden(['audit', 'verify', '--store', `sqlite:${path}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /audit chain intact: 22 entries verified/);
    const j = await runWarden(['audit', 'verify', '--store', `sqlite:${path}`, '--json']);
    assert.equal(j.code, 0);
    const v = JSON.parse(j.stdout);
    assert.deepEqual([v.ok, v.checked], [true, 22]);
    assert.deepEqual([v.checkpoints.latest.seq, v.checkpoints.unanchored], [22, 0], 'the shutdown checkpoint');
    assert.equal((await stat(path)).mtimeMs, before, 'read-only: the file is untouched');
  });

  it('an edited entry fails at that entry (exit 1)', async () => {
    const path = await copy('edited.db');
    const db = new SqliteDatabase(path);
    db.prepare("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 7").run();
    db.close();
    const r = await runWarden(['audit', 'verify', '--store', `sqlite:${path}`, '--json']);
    assert.equal(r.code, 1);
    const v = JSON.parse(r.stdout);
    assert.equal(v.ok, false);
    assert.deepEqual([v.firstBad.seq, v.firstBad.reason, v.checked], [7, 'hash-mismatch', 6]);
  });

  it('a deleted entry fails right after the gap', async () => {
    const path = await copy('deleted.db');
    const db = new SqliteDatabase(path);
    db.prepare('DELETE FROM audit_log WHERE seq = 12').run();
    db.close();
    const r = await runWarden(['audit', 'verify', '--store', `sqlite:${path}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /BROKEN at entry #13 .*missing; 11 entries verified/);
  });

  it('a store that does not exist is a clear error, and nothing is created', async () => {
    const path = join(dir, 'nope.db');
    const r = await runWarden(['audit', 'verify', '--store', `sqlite:${path}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot be opened/);
    await assert.rejects(stat(path));
  });
});
