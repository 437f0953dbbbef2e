// The demo's HTTP target: a small billing API on loopback (customers as JSON, refunds), which
// only accepts the gateway's injected key. `warden demo` puts it behind the HTTP front door as
// connection `billing`.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { freePort } from '../gateway/index.js';

export const DEMO_HTTP_PORT = 8443;

const CUSTOMERS = [
  { id: 1, name: 'Ada Lovelace', email: 'ada@example.com', card_number: '4111 1111 1111 1111', plan: 'pro' },
  { id: 2, name: 'Alan Turing', email: 'alan@example.org', card_number: '5555 5555 5555 4444', plan: 'team' },
  { id: 7, name: 'Grace Hopper', email: 'grace@example.net', card_number: '3782 822463 10005', plan: 'free' },
];

export interface DemoHttpTarget {
  port: number;
  /** The key only the gateway holds (injected as Authorization upstream). */
  apiKey: string;
  close(): Promise<void>;
}

export async function startDemoHttpTarget(): Promise<DemoHttpTarget> {
  const apiKey = `demo_${randomBytes(12).toString('hex')}`;
  let refunds = 0;
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      send(401, { error: 'missing or wrong API key' });
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const one = /^\/customers\/(\d+)$/.exec(path);
      if (req.method === 'GET' && path === '/customers') return send(200, CUSTOMERS);
      if (one && req.method === 'GET') {
        const c = CUSTOMERS.find((x) => x.id === Number(one[1]));
        return c ? send(200, c) : send(404, { error: 'no such customer' });
      }
      if (one && req.method === 'DELETE') return send(204, null);
      if (req.method === 'POST' && path === '/refunds') {
        let body: { amount?: unknown; customer?: unknown } = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        } catch {
          return send(400, { error: 'expected JSON' });
        }
        refunds++;
        return send(201, {
          id: refunds,
          amount: body.amount ?? null,
          customer: body.customer ?? null,
          state: 'issued',
        });
      }
      if (path === '/health') return send(200, { ok: true });
      send(404, { error: 'not found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    apiKey,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** `preferred` when it is free on `host`, else any free port (0: any free port). */
export async function httpDoorPort(host: string, preferred: number): Promise<number> {
  if (preferred === 0) return freePort(host);
  const free = await new Promise<boolean>((resolve) => {
    const probe = createNetServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host, port: preferred, exclusive: true }, () => probe.close(() => resolve(true)));
  });
  return free ? preferred : freePort(host);
}
