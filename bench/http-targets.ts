// Child processes of bench/http.bench.ts. `upstream`: the upstream (a small JSON response, and a
// 200 MB JSON array streamed in chunks); prints {"upstream"}. `relay <upstream port>`: a bare
// undici relay in its own process (so its CPU time is its own); prints {"relay"}.
// `gateway <upstream port>`: Warden's HTTP front door alone (its RSS is the gateway's), with
// policy, masking, recording and audit on; prints {"warden","token"}.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';
import { parseConfig } from '../src/config/index.js';
import { createLogger, freePort } from '../src/gateway/index.js';
import { startGateway } from '../src/server/index.js';
import { gatewayYamlHead } from '../test/helpers/gateway.js';

const SMALL = JSON.stringify([
  { id: 1, name: 'Ada', email: 'ada@example.com', plan: 'pro' },
  { id: 2, name: 'Alan', email: 'alan@example.org', plan: 'team' },
]);
const ITEM = Buffer.from(
  '{"id":12345,"name":"Ada Lovelace","email":"ada@example.com","note":"plain text here","n":3.14},',
);

async function main(): Promise<void> {
  if (process.argv[2] === 'gateway') return gateway(Number(process.argv[3]));
  if (process.argv[2] === 'relay') return relay(Number(process.argv[3]));
  const upstream = createServer((req, res) => {
    if (req.url === '/big') {
      const total = Number(process.env.BIG_BYTES ?? 200 * 1024 * 1024);
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.concat(Array.from({ length: 640 }, () => ITEM)); // ≈ 64 KiB
      let sent = 0;
      res.write('[');
      const more = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        res.end('{}]');
      };
      more();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(SMALL) });
    res.end(SMALL);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ upstream: (upstream.address() as { port: number }).port })}\n`);
  exitWithStdin();
}

async function relay(upPort: number): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${upPort}`, { connections: 64 });
  const server = createServer(async (req, res) => {
    try {
      const up = await pool.request({ path: req.url ?? '/', method: 'GET', headers: { accept: 'application/json' } });
      res.writeHead(up.statusCode, up.headers as Record<string, string>);
      pipeline(up.body, res, () => {});
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ relay: (server.address() as { port: number }).port })}\n`);
  exitWithStdin();
}

/** The bench closes stdin to stop a child (a profiled one then writes its profile). */
function exitWithStdin(): void {
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

async function gateway(upPort: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-http-'));
  const apiPort = await freePort();
  const yaml = `${gatewayYamlHead(dir, apiPort, 'http')}connections:
  api:
    type: http
    url: http://127.0.0.1:${upPort}
    headers:
      Authorization: Bearer upstream-key
access:
  - groups: [agents]
    connections: [api]
rules:
  - name: no-delete
    when: op.kind == 'http' && op.http.method == 'DELETE'
    action: block
  - name: refunds-review
    when: op.kind == 'http' && op.http.path == '/refunds' && op.http.json.amount > 1000
    action: review
    approvers: { groups: [finance], count: 1 }
masking:
  - connections: [api]
    columns: [email, card_number]
    detect: [email, credit_card, secret]
`;
  await writeFile(join(dir, 'warden.yaml'), yaml);
  const { config } = parseConfig(yaml, { baseDir: dir });
  const gw = await startGateway(config, { logger: createLogger({ level: 'silent' }) });
  const token = await gw.devIssuer!.mint({ sub: 'bench', groups: ['agents'], ttlMs: 3600_000 });
  process.stdout.write(`${JSON.stringify({ warden: gw.ports.http, token })}\n`);
  exitWithStdin();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
