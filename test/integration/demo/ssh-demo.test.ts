// `warden demo`'s SSH target (src/demo/ssh-target.ts: the in-process stand-in host web-1) through
// the demo gateway, with the real OpenSSH client + sshpass exactly as the printed lines run it:
// output masked by content for an agent and clear for a dba, `rm` blocked (exit 126, the file
// still there) however the line hides it, `warden exec` and `warden ssh` (certificate) through the
// real CLI, and the stand-in host itself refusing other keys and paths outside its folder.
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { demoInstructions, type RunningDemo, startDemo } from '../../../src/demo/index.js';
import { generateEd25519KeyPair } from '../../../src/protocols/ssh/keygen.js';
import { runProgram, WARDEN_BIN } from './support.js';

const STARTUP_TIMEOUT = 240_000;
const RAW = ['ada@example.com', 'alan@example.org', '4111 1111 1111 1111', '5555 5555 5555 4444'];

describe('warden demo: the SSH target web-1', () => {
  let root: string;
  let demo: RunningDemo;

  before(
    async () => {
      root = await mkdtemp(join(tmpdir(), 'warden-demo-ssh-test-'));
      demo = await startDemo({ dir: join(root, 'demo'), apiPort: 0, pgPort: 0 });
    },
    { timeout: STARTUP_TIMEOUT },
  );
  after(async () => {
    await demo?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** As the printed line: token from the environment, the gateway's host key pinned by the demo's known_hosts. */
  const ssh = (token: string, command: string) =>
    runProgram(
      'sshpass',
      [
        '-e',
        'ssh',
        ...['-p', String(demo.sshPort), '-o', `UserKnownHostsFile=${join(demo.dir, 'known_hosts')}`],
        ...['-o', 'StrictHostKeyChecking=yes', '-o', 'PubkeyAuthentication=no', '-o', 'LogLevel=ERROR'],
        'web-1@127.0.0.1',
        command,
      ],
      { SSHPASS: token },
    );
  const warden = (token: string, args: string[]) =>
    runProgram(process.execPath, [WARDEN_BIN, ...args], { WARDEN_TOKEN: token, WARDEN_GATEWAY: demo.apiUrl });

  it('prints ready-to-paste ssh lines for the running ports', () => {
    const text = demoInstructions(demo, root);
    assert.match(text, new RegExp(`sshpass -e ssh -p ${demo.sshPort} .*web-1@127\\.0\\.0\\.1 'cat customers\\.csv'`));
    assert.match(text, /warden exec web-1 -- 'cat customers\.csv'/);
  });

  it('an agent reads the host file masked by content; a dba in clear', async () => {
    const agent = await ssh(demo.tokens.agent, 'cat customers.csv');
    assert.equal(agent.code, 0, agent.stderr);
    assert.match(agent.stdout, /Ada Lovelace/);
    for (const v of RAW) assert.ok(!agent.stdout.includes(v), `unmasked ${v}: ${agent.stdout}`);
    const dba = await ssh(demo.tokens.dba, 'cat customers.csv');
    assert.equal(dba.code, 0, dba.stderr);
    for (const v of RAW) assert.ok(dba.stdout.includes(v), `dba misses ${v}: ${dba.stdout}`);
    const piped = await ssh(demo.tokens.agent, 'ls | cat && whoami');
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /^README\.txt\napp\.log\ncustomers\.csv\ndemo\n$/);
  });

  it('rm is blocked with exit 126 however the line hides it, and the file is still there', async () => {
    for (const line of [
      'rm customers.csv',
      'rm -f customers.csv',
      'bash -c "rm customers.csv"',
      'echo customers.csv | xargs rm',
      '$(echo rm) customers.csv',
      "r''m customers.csv",
    ]) {
      const r = await ssh(demo.tokens.dba, line);
      assert.equal(r.code, 126, `${line}: ${r.code} ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, /no-rm/, line);
      await access(join(demo.sshTargetDir, 'customers.csv'));
    }
    const ls = await ssh(demo.tokens.agent, 'ls');
    assert.match(ls.stdout, /customers\.csv/);
  });

  it('a wrong token is refused by the SSH door', async () => {
    const r = await ssh(`${demo.tokens.agent}x`, 'echo hi');
    assert.notEqual(r.code, 0);
    assert.ok(!r.stdout.includes('hi'));
  });

  it('warden exec web-1 runs through the same path: masked output, rm blocked with 126', async () => {
    const ok = await warden(demo.tokens.agent, ['exec', 'web-1', '--', 'cat customers.csv']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Grace Hopper/);
    for (const v of RAW) assert.ok(!ok.stdout.includes(v), `unmasked ${v}`);
    const blocked = await warden(demo.tokens.agent, ['exec', 'web-1', '--', 'rm customers.csv']);
    assert.equal(blocked.code, 126, blocked.stdout + blocked.stderr);
    await access(join(demo.sshTargetDir, 'customers.csv'));
  });

  it('warden ssh with a certificate (the printed cert line) needs no token to type', async () => {
    const certDir = join(root, 'ssh-cert');
    const r = await warden(demo.tokens.agent, ['ssh', 'web-1', '--dir', certDir, '--', 'cat customers.csv']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Alan Turing/);
    for (const v of RAW) assert.ok(!r.stdout.includes(v), `unmasked ${v}`);
  });

  it('the stand-in host accepts only the gateway key and stays inside its folder', async () => {
    const port = Number(/port: (\d+)\s+# the demo host/.exec(await readFile(demo.configFile, 'utf8'))?.[1]);
    const gatewayKey = await readFile(join(demo.dir, 'web-1-key'), 'utf8');
    const other = generateEd25519KeyPair('demo test stranger').private;
    await assert.rejects(hostExec(port, other, 'echo hi'), /authentication/i);
    const inside = await hostExec(port, gatewayKey, 'echo hi');
    assert.deepEqual(inside, { code: 0, stdout: 'hi\n', stderr: '' });
    const outside = await hostExec(port, gatewayKey, 'cat ../../../../etc/hostname');
    assert.equal(outside.code, 1);
    assert.equal(outside.stdout, '');
    const redirect = await hostExec(port, gatewayKey, 'echo x > customers.csv');
    assert.equal(redirect.code, 2);
    assert.match(redirect.stderr, /not a shell/);
    const unknown = await hostExec(port, gatewayKey, 'bash -c id');
    assert.equal(unknown.code, 127);
    assert.equal((await readFile(join(demo.sshTargetDir, 'customers.csv'), 'utf8')).includes('Ada'), true);
  });
});

function hostExec(port: number, privateKey: string, command: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('error', reject);
    client.on('ready', () => {
      client.exec(command, (err, ch) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        ch.on('data', (d: Buffer) => (stdout += d));
        ch.stderr.on('data', (d: Buffer) => (stderr += d));
        ch.on('exit', (c: number | null) => (code = c));
        ch.on('close', () => {
          client.end();
          resolve({ code, stdout, stderr });
        });
      });
    });
    client.connect({ host: '127.0.0.1', port, username: 'demo', privateKey, readyTimeout: 10_000 });
  });
}
