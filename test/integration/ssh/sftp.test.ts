// SFTP and scp (OpenSSH 9 runs scp over SFTP) through the gateway: every request is a decided
// `file` operation; a remove outside uploads/ is refused and the file stays; reads are masked.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SSH_OPTIONS, type SshGateway, type SshRun, startSshGateway } from './support.js';

describe('sftp and scp through the gateway (real sftp/scp → Warden → sshd)', () => {
  let gw: SshGateway;
  let agent: string;
  let local: string;

  before(async () => {
    gw = await startSshGateway();
    agent = await gw.token('agent-1', ['agents']);
    local = mkdtempSync(join(tmpdir(), 'warden-scp-'));
    gw.target.direct('mkdir -p ~/uploads && echo keep > ~/keep.txt && echo old > ~/uploads/old.txt');
    writeFileSync(join(gw.target.home, 'customers.csv'), 'alice@example.com,4111 1111 1111 1111\n', { mode: 0o644 });
  });
  after(() => gw?.stop());

  const run = (tool: 'scp' | 'sftp', args: string[], input?: string): Promise<SshRun> => {
    const child = spawn('sshpass', ['-e', tool, ...SSH_OPTIONS, '-P', String(gw.sshPort), ...args], {
      env: { ...process.env, SSHPASS: agent },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.stdin.end(input ?? '');
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  };

  it('scp uploads and downloads a file', async () => {
    writeFileSync(join(local, 'up.txt'), 'uploaded through warden\n');
    const up = await run('scp', [join(local, 'up.txt'), 'web-1@127.0.0.1:uploads/up.txt']);
    assert.equal(up.status, 0, up.stderr);
    assert.equal(readFileSync(join(gw.target.home, 'uploads', 'up.txt'), 'utf8'), 'uploaded through warden\n');
    const down = await run('scp', ['web-1@127.0.0.1:keep.txt', join(local, 'keep.txt')]);
    assert.equal(down.status, 0, down.stderr);
    assert.equal(readFileSync(join(local, 'keep.txt'), 'utf8'), 'keep\n');
  });

  it('a download is masked', async () => {
    const r = await run('scp', ['web-1@127.0.0.1:customers.csv', join(local, 'c.csv')]);
    assert.equal(r.status, 0, r.stderr);
    const text = readFileSync(join(local, 'c.csv'), 'utf8');
    assert.doesNotMatch(text, /alice@example\.com|4111 1111 1111 1111/);
    assert.match(text, /@example\.com/);
  });

  it('sftp remove outside uploads/ is refused (the file stays), inside it works', async () => {
    // Commands on stdin (not -b: batch mode turns password prompts off, so the token could not be typed).
    const r = await run('sftp', ['web-1@127.0.0.1'], 'rm keep.txt\nrm uploads/old.txt\n');
    assert.match(r.stderr, /Permission denied|warden: blocked by rule deletes-only-in-uploads/);
    assert.ok(existsSync(join(gw.target.home, 'keep.txt')), 'refused remove did not happen');
    assert.ok(!existsSync(join(gw.target.home, 'uploads', 'old.txt')), 'allowed remove happened');
  });
});
