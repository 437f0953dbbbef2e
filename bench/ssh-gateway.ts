// Child process of bench/ssh.bench.ts: Warden with its SSH front door alone (so its RSS is the
// gateway's), one SSH connection `web-1` to the bench's sshd, guardrail rules, masking (content
// detectors), recording and audit on. It mints a token, then an ed25519 key pair with an OpenSSH
// user certificate from the gateway's CA (what `warden ssh-cert` does), so the bench's ssh client
// logs in through Warden with the same key type as directly. Prints {"sshPort","key","cert"};
// exits when stdin ends. It runs as plain JavaScript (transpiled by bench/ssh.bench.ts like the
// PostgreSQL bench's gateway, see bench/pg/compile.ts), so it imports only src/, not test helpers.
//   argv: <dir> <target port> <target user> <target key file> <target host key fingerprint>
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../src/config/index.js';
import { createLogger, freePort } from '../src/gateway/index.js';
import { generateEd25519KeyPair } from '../src/protocols/ssh/keygen.js';
import { startGateway } from '../src/server/index.js';

async function main(): Promise<void> {
  const [dir, port, user, keyFile, hostKey] = process.argv.slice(2) as [string, string, string, string, string];
  const apiPort = await freePort();
  const yaml = `
listen:
  api: 127.0.0.1:${apiPort}
  ssh: 127.0.0.1:0
store: sqlite:${join(dir, 'warden.db')}
recordings: ${join(dir, 'recordings')}
dataDir: ${join(dir, 'data')}
admins: [admins]
identity:
  dev: true
connections:
  web-1:
    type: ssh
    host: 127.0.0.1
    port: ${port}
    user: ${user}
    privateKey: \${file:${keyFile}}
    hostKey: "${hostKey}"
access:
  - groups: [agents]
    connections: [web-1]
rules:
  - name: unparsed-command
    when: op.kind == 'command' && !op.command.parsed
    action: block
  - name: no-rm
    when: op.kind == 'command' && op.command.programs.exists(p, p in ['rm', 'shred', '*'])
    action: block
  - name: restart-needs-review
    when: op.kind == 'command' && op.command.programs.exists(p, p == 'systemctl')
    action: review
    approvers: { groups: [admins], count: 1 }
${
  // SSH_BENCH_MASKING=0: no masking entry (an A/B of what masking costs; the goal is with it on).
  process.env.SSH_BENCH_MASKING === '0'
    ? ''
    : `masking:
  - connections: [web-1]
    detect: [email, credit_card, secret]
`
}`;
  await writeFile(join(dir, 'warden.yaml'), yaml);
  const { config } = parseConfig(yaml, { baseDir: dir, env: process.env });
  const gw = await startGateway(config, { logger: createLogger({ level: process.env.WARDEN_BENCH_LOG ?? 'silent' }) });
  const token = await gw.devIssuer!.mint({ sub: 'bench-agent', groups: ['agents'], ttlMs: 3600_000 });
  const pair = generateEd25519KeyPair('warden bench');
  const res = await fetch(`${gw.apiUrl}/api/v1/ssh/certificates`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ publicKey: pair.public, ttl: '1h' }),
  });
  if (res.status !== 201) throw new Error(`certificate: HTTP ${res.status} ${await res.text()}`);
  const { certificate } = (await res.json()) as { certificate: { certificate: string } };
  const key = join(dir, 'id_ed25519');
  await writeFile(key, pair.private, { mode: 0o600 });
  await writeFile(`${key}-cert.pub`, `${certificate.certificate}\n`);
  process.stdout.write(`${JSON.stringify({ sshPort: gw.ports.ssh, key, cert: `${key}-cert.pub` })}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await gw.close();
    process.exit(0);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
