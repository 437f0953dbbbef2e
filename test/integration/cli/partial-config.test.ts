// Client commands resolve only the secrets they use: `warden token` works while a connection's
// `${env:…}` is unset; `warden check` (the gateway's view) still reports it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';

describe('config for clients', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warden-partial-'));
    await writeFile(
      join(dir, 'warden.yaml'),
      `identity: { dev: true }\ndataDir: ${join(dir, 'data')}\nconnections:\n  shop: { type: postgres, host: 127.0.0.1, password: "\${env:WARDEN_TEST_NEVER_SET}" }\n`,
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('warden token needs no connection secret', async () => {
    const r = await runWarden(['token', '--sub', 'a', '--groups', 'agents', '-c', join(dir, 'warden.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('warden check still reports the missing secret', async () => {
    const r = await runWarden(['check', '-c', join(dir, 'warden.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /WARDEN_TEST_NEVER_SET/);
  });

  it("warden check --only checks one section without the others' secrets", async () => {
    const r = await runWarden(['check', '--only', 'identity', '-c', join(dir, 'warden.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /is valid/);
    const withConnections = await runWarden(['check', '--only', 'connections', '-c', join(dir, 'warden.yaml')]);
    assert.equal(withConnections.code, 2);
    assert.match(withConnections.stderr, /WARDEN_TEST_NEVER_SET/);
  });
});
