import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';

describe('warden check', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warden-check-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts the shipped example and prints a one-line summary', async () => {
    const r = await runWarden(['check', '-c', 'examples/warden.yaml'], {
      env: { SHOP_DB_PASSWORD: 'example-secret-value' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.doesNotMatch(r.stdout + r.stderr, /example-secret-value/);
  });

  it('lists every mistake with its YAML path and exits 2', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'listen: { api: 127.0.0.1:8080 }',
        'connections:',
        '  shop: { type: postgres, host: 127.0.0.1, port: "not-a-number" }',
        'access:',
        '  - groups: [agents]',
        '    connections: [shop]',
        '    colour: blue',
        'rules:',
        '  - name: typo',
        "    when: op.kind == 'sql' && op.sql.kindz.exists(k, k == 'drop')",
        '    action: block',
      ].join('\n'),
    );
    const r = await runWarden(['check', '-c', file]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /connections\.shop\.port/);
    assert.match(r.stderr, /access\[0\]/);
    assert.match(r.stderr, /rules\[0\]\.when: .*op\.sql\.kindz/);
    assert.match(r.stderr, /3 errors/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('reports an unresolved secret by reference, never by value, and exits 2', async () => {
    const file = join(dir, 'secret.yaml');
    await writeFile(
      file,
      ['connections:', '  shop:', '    type: postgres', '    password: $' + '{env:WARDEN_TEST_MISSING_VAR}'].join('\n'),
    );
    const r = await runWarden(['check', '-c', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /connections\.shop\.password/);
    assert.match(r.stderr, /WARDEN_TEST_MISSING_VAR/);
  });

  it('a missing file is a one-line usage error', async () => {
    const r = await runWarden(['check', '-c', join(dir, 'nope.yaml')]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
