// OpenSSH user certificates through the gateway (DESIGN.md §4, §8 SSH): `warden ssh-cert` mints a
// key pair here and a certificate from the gateway's CA, `warden ssh-config` prints Host blocks
// the real `ssh` uses verbatim (gateway host key pinned, no prompt), `warden ssh` wraps ssh.
// Certificates the gateway must refuse are made with the real ssh-keygen (-s), one property
// wrong at a time; each is refused by the real ssh client's login and, for the reason, by the
// verifier itself.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { sign as cryptoSign, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { freePort } from '../../../src/gateway/index.js';
import { userCa } from '../../../src/protocols/ssh/ca.js';
import { certificateLogin } from '../../../src/protocols/ssh/cert-auth.js';
import {
  decodeCertificate,
  ED25519_CERT,
  parseCertificateLine,
  SshWriter,
} from '../../../src/protocols/ssh/certificate.js';
import { runWarden, WARDEN_BIN } from '../../helpers/cli.js';
import { type Issued, sshF } from './cert-support.js';
import { type SshGateway, type SshRun, startSshGateway } from './support.js';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('ssh certificates: warden ssh-cert / ssh-config / ssh through the gateway (real ssh → Warden → sshd)', () => {
  let gw: SshGateway;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let agent: string;
  let config: string;
  let issued: Issued;
  const certDir = () => join(dir, 'home', 'ssh');

  before(async () => {
    gw = await startSshGateway();
    dir = await mkdtemp(join(tmpdir(), 'warden-ssh-cert-'));
    agent = await gw.token('agent-1', ['agents']);
    env = { WARDEN_GATEWAY: gw.running.apiUrl, WARDEN_TOKEN: agent, WARDEN_HOME: join(dir, 'home') };
    gw.target.direct('mkdir -p ~/victim && touch ~/victim/keep');
  });
  after(async () => {
    await gw?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('warden ssh-cert writes a key pair (private key 0600) and a certificate for the caller', async () => {
    const r = await runWarden(['ssh-cert', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    issued = JSON.parse(r.stdout) as Issued;
    assert.equal(issued.principal, 'agent-1');
    const key = join(certDir(), 'id_ed25519');
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.equal(statSync(certDir()).mode & 0o777, 0o700);
    const privateKey = readFileSync(key, 'utf8');
    assert.match(privateKey, /BEGIN OPENSSH PRIVATE KEY/);
    assert.ok(!r.stdout.includes(privateKey.split('\n')[1] as string), 'the private key is never printed');
    // The real ssh-keygen reads it: a user certificate, principal = sub, valid 15 minutes.
    const listing = execFileSync('ssh-keygen', ['-L', '-f', join(certDir(), 'id_ed25519-cert.pub')], {
      encoding: 'utf8',
    });
    assert.match(listing, /Type: ssh-ed25519-cert-v01@openssh.com user certificate/);
    assert.match(listing, /Principals: \n\s+agent-1\n/);
    assert.match(listing, new RegExp(`Key ID: "${issued.keyId}"`));
    assert.match(listing, /Critical Options: \(none\)/);
    const minutes = (issued.validBefore - Date.now()) / 60_000;
    assert.ok(minutes > 13 && minutes <= 15, `valid for ${minutes} minutes`);
  });

  it('the issue is audited with its key id; the private key is nowhere in the audit log', async () => {
    const entries = await gw.running.gateway.audit.list({ type: 'ssh.certificate.issued', limit: 100 });
    const mine = entries.find((e) => (e.data as { keyId?: string }).keyId === issued.keyId);
    assert.ok(mine, 'ssh.certificate.issued with the key id');
    assert.equal(mine.actor, 'agent-1');
    const all = JSON.stringify(await gw.running.gateway.audit.list({ limit: 10_000 }));
    const privateKey = readFileSync(join(certDir(), 'id_ed25519'), 'utf8');
    for (const line of privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')))
      assert.ok(!all.includes(line), 'no private key material in the audit log');
  });

  it('warden ssh-config prints Host blocks that plain ssh uses verbatim: no prompt, host key pinned', async () => {
    const r = await runWarden(['ssh-config'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Host web-1$/m);
    assert.match(r.stdout, new RegExp(`^  Port ${gw.sshPort}$`, 'm'));
    assert.match(r.stdout, /^ {2}User web-1$/m);
    assert.match(r.stdout, /^ {2}StrictHostKeyChecking yes$/m);
    config = join(dir, 'ssh_config');
    await writeFile(config, r.stdout);
    const known = await readFile(join(certDir(), 'known_hosts'), 'utf8');
    assert.match(known, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${gw.sshPort} ssh-ed25519 `, 'm'));
    const run = await sshF(config, ['web-1', 'echo hi']);
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, 'hi\n');
    assert.equal(run.status, 0);
    // The identity is the certificate's: policy still decides every command.
    const rm = await sshF(config, ['web-1', 'rm -rf ~/victim']);
    assert.equal(rm.status, 126);
    assert.match(rm.stderr, /blocked by rule no-rm/);
    assert.ok(existsSync(`${gw.target.home}/victim/keep`));
  });

  it('scp and sftp use the same Host block', async () => {
    const local = join(dir, 'report.csv');
    await writeFile(local, 'id,total\n1,10\n');
    const up = spawn('scp', ['-F', config, '-o', 'BatchMode=yes', '-q', local, 'web-1:report-via-cert.csv'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    up.stderr.on('data', (d) => (stderr += d));
    const status = await new Promise((resolve) => up.on('close', resolve));
    assert.equal(status, 0, stderr);
    assert.equal(readFileSync(`${gw.target.home}/report-via-cert.csv`, 'utf8'), 'id,total\n1,10\n');
  });

  it('a gateway with another host key is refused by the pinned known_hosts', async () => {
    const other = join(dir, 'other_known_hosts');
    const key = readFileSync(join(certDir(), 'id_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    await writeFile(other, `[127.0.0.1]:${gw.sshPort} ${key}\n`);
    const run = await sshF(config, ['-o', `UserKnownHostsFile=${other}`, 'web-1', 'echo hi']);
    assert.equal(run.status, 255);
    assert.match(run.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('warden ssh CONNECTION -- cmd mints a certificate when there is none, then runs ssh', async () => {
    const fresh = join(dir, 'fresh');
    const r = await runWarden(['ssh', '--dir', fresh, 'web-1', '--', 'echo', 'through', 'warden'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'through warden\n');
    assert.ok(existsSync(join(fresh, 'id_ed25519-cert.pub')));
    // A refused command's status comes back as ssh's.
    const blocked = await runWarden(['ssh', '--dir', fresh, 'web-1', '--', 'rm', '-rf', '~/victim'], { env });
    assert.equal(blocked.code, 126);
    assert.match(blocked.stderr, /blocked by rule no-rm/);
  });

  it('warden ssh -L … -N forwards a local port through the target; a forbidden forward opens nothing', async () => {
    const echo = createServer((sock) => sock.pipe(sock));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as AddressInfo).port;
    const [allowed, forbidden] = [await freePort(), await freePort()];
    let reached = 0;
    echo.on('connection', () => reached++);
    const child = spawn(
      process.execPath,
      [
        WARDEN_BIN,
        'ssh',
        '--dir',
        certDir(),
        '-N',
        '-L',
        `${allowed}:127.0.0.1:${echoPort}`,
        '-L',
        `${forbidden}:localhost:${echoPort}`,
        'web-1',
      ],
      { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      const roundTrip = (port: number) =>
        new Promise<string>((resolve) => {
          const sock = connect(port, '127.0.0.1');
          let got = '';
          sock.on('error', () => resolve(got));
          sock.on('data', (d) => {
            got += d;
            if (got.includes('\n')) sock.end();
          });
          sock.on('close', () => resolve(got));
          sock.on('connect', () => sock.write('ping through warden\n'));
        });
      let echoed = '';
      for (let i = 0; i < 100 && echoed === ''; i++) {
        echoed = await roundTrip(allowed);
        if (echoed === '') await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(echoed, 'ping through warden\n', stderr);
      const before = reached;
      assert.equal(await roundTrip(forbidden), '', 'nothing comes back through a refused forward');
      assert.equal(reached, before, 'the refused forward never connected');
      await new Promise((r) => setTimeout(r, 200));
      assert.match(stderr, /administratively prohibited|open failed/);
    } finally {
      child.kill();
      echo.close();
    }
    const usage = await runWarden(['ssh', '--dir', certDir(), '-L', 'not-a-spec', 'web-1'], { env });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /is not \[bind_address:\]port:host:hostport/);
  });

  it('the certificate never outlives the token, and warden ssh renews one about to end', async () => {
    const brief = await gw.token('agent-1', ['agents'], 30_000);
    const briefDir = join(dir, 'brief');
    const r = await runWarden(['ssh-cert', '--ttl', '2h', '--json', '--out', briefDir], {
      env: { ...env, WARDEN_TOKEN: brief },
    });
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as Issued;
    assert.ok(c.validBefore <= Date.now() + 30_000, 'valid-before ≤ the token expiry');
    // Under a minute left: `warden ssh` mints a new one (with the long-lived token) before it logs in.
    const before = await readFile(join(briefDir, 'id_ed25519-cert.pub'), 'utf8');
    const run = await runWarden(['ssh', '--dir', briefDir, 'web-1', '--', 'echo', 'renewed'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'renewed\n');
    assert.notEqual(await readFile(join(briefDir, 'id_ed25519-cert.pub'), 'utf8'), before);
  });

  it('the API refuses what is not an ed25519 public key, and a ttl out of bounds', async () => {
    const post = (body: unknown) =>
      fetch(`${gw.running.apiUrl}/api/v1/ssh/certificates`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const rsa = execFileSync('sh', [
      '-c',
      `ssh-keygen -q -t rsa -b 2048 -N '' -f ${dir}/rsa && cat ${dir}/rsa.pub`,
    ]).toString();
    for (const body of [
      { publicKey: rsa },
      { publicKey: 'ssh-ed25519 AAAA' },
      { publicKey: readFileSync(join(certDir(), 'id_ed25519'), 'utf8') },
      { publicKey: readFileSync(join(certDir(), 'id_ed25519.pub'), 'utf8'), ttl: '3d' },
      { publicKey: readFileSync(join(certDir(), 'id_ed25519.pub'), 'utf8'), ttl: 'soon' },
    ]) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 60));
      assert.equal(res.headers.get('content-type')?.split(';')[0], 'application/problem+json');
    }
    const anonymous = await fetch(`${gw.running.apiUrl}/api/v1/ssh/certificates`, { method: 'POST' });
    assert.equal(anonymous.status, 401);
  });

  describe('certificates the gateway refuses (made with ssh-keygen -s, one thing wrong at a time)', () => {
    let caKey: string;
    let userKey: string;
    let otherCa: string;
    let forgedDir: string;
    let forgedConfig: string;
    let n = 0;

    before(async () => {
      // IdentityFile and CertificateFile add up in ssh: each try gets a config naming only its own.
      forgedDir = join(dir, 'forged');
      forgedConfig = join(dir, 'forged_config');
      const r = await runWarden(['ssh-config', '--dir', forgedDir], { env });
      assert.equal(r.code, 0, r.stderr);
      await writeFile(forgedConfig, r.stdout);
      caKey = join(gw.running.gateway.config.dataDir, 'ssh_user_ca_ed25519_key');
      userKey = join(dir, 'forged_key');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', userKey]);
      otherCa = join(dir, 'other_ca');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherCa]);
    });

    /** A certificate for userKey by `ca`, carrying the identity extension as the gateway writes it. */
    function forge(opts: { ca?: string; principal?: string; validity?: string; extra?: string[] } = {}): string {
      const identity = JSON.stringify({
        iss: gw.running.devIssuer!.issuer,
        sub: 'agent-1',
        groups: ['agents'],
        claims: {},
        exp: Date.now() + 3_600_000,
      });
      const pub = `${userKey}-${++n}.pub`;
      execFileSync('cp', [`${userKey}.pub`, pub]);
      execFileSync('ssh-keygen', [
        ...['-q', '-s', opts.ca ?? caKey, '-I', `forged-${n}`],
        // No -n at all: no principals, which OpenSSH reads as "any principal".
        ...(opts.principal === '' ? [] : ['-n', opts.principal ?? 'agent-1']),
        ...['-V', opts.validity ?? '-5m:+1h', '-O', `extension:identity@warden=${identity}`],
        ...(opts.extra ?? []),
        pub,
      ]);
      return `${userKey}-${n}-cert.pub`;
    }

    async function login(certFile: string, key = userKey): Promise<SshRun> {
      await copyFile(key, join(forgedDir, 'id_ed25519'));
      await chmod(join(forgedDir, 'id_ed25519'), 0o600);
      await copyFile(certFile, join(forgedDir, 'id_ed25519-cert.pub'));
      return sshF(forgedConfig, ['web-1', 'echo in']);
    }

    async function reason(certFile: string): Promise<string> {
      const ca = await userCa(gw.running.gateway.config.dataDir);
      const key = parseCertificateLine(await readFile(certFile, 'utf8'));
      try {
        certificateLogin(ca, { algo: ED25519_CERT, key }, Date.now());
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    }

    it('control: a certificate ssh-keygen made with the gateway CA and a correct identity logs in', async () => {
      const cert = forge();
      assert.equal(await reason(cert), 'accepted');
      const run = await login(cert);
      assert.equal(run.stdout, 'in\n', run.stderr);
      assert.equal(run.status, 0);
    });

    for (const [name, make, why] of [
      ['past its validity', () => forge({ validity: '-2h:-1h' }), /expired/],
      ['not yet valid', () => forge({ validity: '+1h:+2h' }), /not valid yet/],
      ['signed by another CA', () => forge({ ca: otherCa }), /not signed by this gateway's SSH CA/],
      ['for another principal', () => forge({ principal: 'someone-else' }), /principal is not the identity/],
      ['with two principals', () => forge({ principal: 'agent-1,root' }), /principal is not the identity/],
      ['with no principal (any, to OpenSSH)', () => forge({ principal: '' }), /principal is not the identity/],
      ['a host certificate', () => forge({ extra: ['-h'] }), /not a user certificate/],
      ['with a critical option', () => forge({ extra: ['-O', 'force-command=true'] }), /critical option/],
      ['with a source-address', () => forge({ extra: ['-O', 'source-address=127.0.0.1/32'] }), /critical option/],
    ] as const) {
      it(`refuses a certificate ${name}`, async () => {
        const cert = make();
        assert.match(await reason(cert), why);
        const run = await login(cert);
        assert.equal(run.status, 255);
        assert.match(run.stderr, /Permission denied/);
        assert.equal(run.stdout, '');
      });
    }

    it('a refused certificate says why at the token prompt that follows, and the token still logs in', async () => {
      await copyFile(forge({ validity: '-2h:-1h' }), join(forgedDir, 'id_ed25519-cert.pub'));
      await copyFile(userKey, join(forgedDir, 'id_ed25519'));
      await chmod(join(forgedDir, 'id_ed25519'), 0o600);
      const child = spawn('sshpass', ['-e', 'ssh', '-F', forgedConfig, '-o', 'LogLevel=INFO', 'web-1', 'echo in'], {
        env: { ...process.env, SSHPASS: env.WARDEN_TOKEN },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const status = await new Promise((resolve) => child.on('close', resolve));
      assert.match(stderr, /warden: the certificate expired at/);
      assert.equal(stdout, 'in\n', stderr);
      assert.equal(status, 0);
    });

    it('refuses an edited certificate (one byte of the signed identity flipped)', async () => {
      const line = await readFile(join(certDir(), 'id_ed25519-cert.pub'), 'utf8');
      const blob = parseCertificateLine(line);
      const at = blob.indexOf(Buffer.from('"agents"'));
      assert.ok(at > 0);
      blob[at + 1] = (blob[at + 1] as number) ^ 0x01; // "agents" → "`gents"
      const edited = join(dir, 'edited-cert.pub');
      await writeFile(edited, `${ED25519_CERT} ${blob.toString('base64')}\n`);
      assert.match(await reason(edited), /CA signature does not verify/);
      const run = await login(edited, join(certDir(), 'id_ed25519'));
      assert.equal(run.status, 255);
      assert.match(run.stderr, /Permission denied/);
    });

    it('refuses a login signed by another key than the certified one', async () => {
      const blob = parseCertificateLine(await readFile(join(certDir(), 'id_ed25519-cert.pub'), 'utf8'));
      const ca = await userCa(gw.running.gateway.config.dataDir);
      const data = Buffer.from('session id and userauth request');
      const wire = (sig: Buffer) => Buffer.concat([u32(11), Buffer.from('ssh-ed25519'), u32(sig.length), sig]);
      const ownKey = ssh2.utils.parseKey(readFileSync(join(certDir(), 'id_ed25519'), 'utf8'));
      if (ownKey instanceof Error || Array.isArray(ownKey)) throw new Error('unreadable key');
      const own = () => wire(ownKey.sign(data));
      const attempt = (signature: Buffer) => ({ algo: ED25519_CERT, key: blob, signature, blob: data });
      assert.equal(certificateLogin(ca, attempt(own()), Date.now()).proven, true);
      const stranger = wire(cryptoSign(null, data, generateKeyPairSync('ed25519').privateKey));
      assert.throws(() => certificateLogin(ca, attempt(stranger), Date.now()), /signature does not verify/);
      const tampered = own();
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 0x80;
      assert.throws(() => certificateLogin(ca, attempt(tampered), Date.now()), /signature does not verify/);
      // A plain key (no certificate) is not a way in either.
      assert.throws(
        () => certificateLogin(ca, { algo: 'ssh-ed25519', key: blob, signature: own(), blob: data }, Date.now()),
        /needs a Warden SSH certificate/,
      );
    });

    it('refuses options out of order or repeated, even under a valid CA signature', async () => {
      const ca = await userCa(gw.running.gateway.config.dataDir);
      const good = decodeCertificate(
        parseCertificateLine(await readFile(join(certDir(), 'id_ed25519-cert.pub'), 'utf8')),
      );
      const flag = (name: string) => new SshWriter().string(name).string(Buffer.alloc(0)).bytes();
      for (const extensions of [
        Buffer.concat([flag('permit-pty'), flag('permit-port-forwarding')]),
        Buffer.concat([flag('permit-pty'), flag('permit-pty')]),
      ]) {
        const principals = new SshWriter().string('agent-1').bytes();
        const body = new SshWriter()
          .string(ED25519_CERT)
          .string(good.nonce)
          .string(good.publicKey)
          .u64(good.serial)
          .u32(1)
          .string(good.keyId)
          .string(principals)
          .u64(good.validAfter)
          .u64(good.validBefore)
          .string(Buffer.alloc(0))
          .string(extensions)
          .string(Buffer.alloc(0))
          .string(ca.blob)
          .bytes();
        const sig = new SshWriter().string('ssh-ed25519').string(ca.sign(body)).bytes();
        const key = Buffer.concat([body, new SshWriter().string(sig).bytes()]);
        assert.throws(() => certificateLogin(ca, { algo: ED25519_CERT, key }, Date.now()), /lexical order or repeat/);
      }
    });

    it('refuses a truncated certificate and one with bytes appended', async () => {
      const blob = parseCertificateLine(await readFile(join(certDir(), 'id_ed25519-cert.pub'), 'utf8'));
      const ca = await userCa(gw.running.gateway.config.dataDir);
      for (const bad of [blob.subarray(0, blob.length - 1), Buffer.concat([blob, Buffer.from([0])])])
        assert.throws(() => certificateLogin(ca, { algo: ED25519_CERT, key: bad }, Date.now()), /could not be read/);
    });
  });
});
