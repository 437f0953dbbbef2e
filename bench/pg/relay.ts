// A bare Node.js TCP relay in front of PostgreSQL, in its own process: no parsing, no policy, one
// socket pair per client piped both ways (Nagle off, as the gateway does). It is the reference
// for what a Node.js process can forward on this machine — the ceiling for the gateway's
// forwarding path, next to pgbouncer's.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Endpoint } from './endpoint.js';

const RELAY = `
const net = require('node:net');
const [upPort] = process.argv.slice(1).map(Number);
const server = net.createServer((client) => {
  client.setNoDelay(true);
  const up = net.connect(upPort, '127.0.0.1');
  up.setNoDelay(true);
  client.pipe(up);
  up.pipe(client);
  const end = () => { client.destroy(); up.destroy(); };
  client.on('error', end).on('close', end);
  up.on('error', end).on('close', end);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

export interface RunningRelay {
  endpoint: Endpoint;
  stop(): Promise<void>;
}

export async function startRelay(target: Endpoint): Promise<RunningRelay> {
  const child: ChildProcess = spawn(process.execPath, ['-e', RELAY, String(target.port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`relay exited (${code})`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  return {
    endpoint: { ...target, name: 'relay', port: Number(line), pid: child.pid! },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      await exited;
    },
  };
}
