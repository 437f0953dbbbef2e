// digestFile reads through one buffer sized to the file (at most 64 KiB): the digest is the
// file's sha256 whatever its size relative to that buffer.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkRecordings, digestFile } from '../../../src/audit/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-digest-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('digestFile: the sha256 and length of files around the read size', async () => {
  for (const size of [0, 1, 300, 65535, 65536, 65537, 200_000]) {
    const data = randomBytes(size);
    const path = join(dir, `r${size}.jsonl`);
    writeFileSync(path, data);
    assert.deepEqual(await digestFile(path), {
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: size,
    });
  }
});

test('digestFile: a missing file rejects; checkRecordings counts it missing, an edited one edited', async () => {
  await assert.rejects(digestFile(join(dir, 'none.jsonl')), { code: 'ENOENT' });
  const path = join(dir, 'edited.jsonl');
  writeFileSync(path, '{"t":0}\n');
  const { sha256 } = await digestFile(path);
  writeFileSync(path, '{"t":1}\n');
  const check = await checkRecordings([
    { seq: 1, session: 's1', file: 'edited.jsonl', path, sha256 },
    { seq: 2, session: 's2', file: 'none.jsonl', path: join(dir, 'none.jsonl'), sha256 },
  ]);
  assert.equal(check.checked, 1);
  assert.deepEqual(check.edited, [{ seq: 1, session: 's1', path }]);
  assert.deepEqual(check.missing, [{ seq: 2, session: 's2', path: join(dir, 'none.jsonl') }]);
});
