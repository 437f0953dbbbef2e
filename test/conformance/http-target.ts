// The HTTP engine's conformance fixture: a real node:http upstream (customers, four counted
// endpoints), the gateway's HTTP front door in front of it, and sessions spoken as raw HTTP/1.1
// on one keep-alive socket, so every outcome is exactly what the wire carried.
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../src/gateway/index.js';
import { type HttpGateway, startHttpGateway, startUpstream, type Upstream } from '../integration/http/support.js';
import { failOperationAudits } from './control.js';
import type {
  ClientSession,
  ConformanceTarget,
  Connected,
  CountedOperation,
  OperationName,
  Outcome,
  Refusal,
  StartedGateway,
} from './target.js';

const UPSTREAM_KEY = 'conformance-upstream-key-zq';
const PLAIN_SECRETS = { ssn: 'conformance-ssn-kq', card: 'conformance-card-kq' };
const CUSTOMERS = [
  {
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    ssn: PLAIN_SECRETS.ssn,
    card_number: '4111 1111 1111 1111',
    phone: '+1 415 555 0100',
  },
  {
    name: 'Alan Turing',
    email: 'alan@example.org',
    ssn: '123-45-6789',
    card_number: PLAIN_SECRETS.card,
    phone: '+44 20 7946 0958',
  },
];

const COUNTED: Record<CountedOperation, string> = {
  allowedWrite: '/write_log',
  blockedOp: '/block_log',
  reviewOp: '/review_log',
  holdOp: '/hold_log',
};

const REQUESTS: Partial<Record<OperationName, { method: string; path: string; body?: string }>> = {
  allowedRead: { method: 'GET', path: '/customers/1' },
  maskedRead: { method: 'GET', path: '/customers' },
  allowedWrite: { method: 'POST', path: COUNTED.allowedWrite, body: '{"note":"allowed"}' },
  blockedOp: { method: 'POST', path: COUNTED.blockedOp, body: '{"note":"blocked"}' },
  reviewOp: { method: 'POST', path: COUNTED.reviewOp, body: '{"note":"reviewed"}' },
  holdOp: { method: 'POST', path: COUNTED.holdOp, body: '{"note":"held"}' },
};

const onPath = (path: string) => `op.kind == 'http' && op.http.path == '${path}'`;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One keep-alive HTTP/1.1 connection, requests written and responses parsed by hand. */
class RawHttp {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawHttp> {
    return new Promise((resolve, reject) => {
      const s = netConnect(port, '127.0.0.1', () => resolve(new RawHttp(s)));
      s.once('error', reject);
    });
  }

  private async more(deadline: number): Promise<boolean> {
    if (this.closed) return false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.waiter = () => {
        clearTimeout(t);
        this.waiter = null;
        resolve();
      };
    });
    return !this.closed || this.buf.length > 0;
  }

  /** The next response, or null when the connection closed first. */
  async response(timeoutMs = 15_000): Promise<RawResponse | null> {
    const deadline = Date.now() + timeoutMs;
    let end = this.buf.indexOf('\r\n\r\n');
    while (end === -1) {
      if (!(await this.more(deadline)) || Date.now() > deadline) return null;
      end = this.buf.indexOf('\r\n\r\n');
    }
    const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    this.buf = this.buf.subarray(end + 4);
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head[0] ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const l of head.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    const parts: Buffer[] = [];
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      while (this.buf.length < n) if (!(await this.more(deadline))) break;
      parts.push(this.buf.subarray(0, n));
      this.buf = this.buf.subarray(n);
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        let nl = this.buf.indexOf('\r\n');
        while (nl === -1) {
          if (!(await this.more(deadline))) return { status, headers, body: Buffer.concat(parts).toString() };
          nl = this.buf.indexOf('\r\n');
        }
        const size = Number.parseInt(this.buf.subarray(0, nl).toString(), 16);
        while (this.buf.length < nl + 2 + size + 2) {
          if (!(await this.more(deadline))) return { status, headers, body: Buffer.concat(parts).toString() };
        }
        parts.push(this.buf.subarray(nl + 2, nl + 2 + size));
        this.buf = this.buf.subarray(nl + 2 + size + 2);
        if (size === 0) break;
      }
    }
    return { status, headers, body: Buffer.concat(parts).toString('utf8') };
  }
}

function refusalOf(r: RawResponse): Refusal {
  let p: { code?: string; detail?: string; reviewId?: string } = {};
  try {
    p = JSON.parse(r.body);
  } catch {}
  const code = String(r.status);
  const message = p.detail ?? r.body;
  if (r.status === 401) return { kind: 'identity', code, message };
  if (p.code === 'WARDEN_REVIEW_REQUIRED') return { kind: 'review', code, message, reviewId: p.reviewId as string };
  if (p.code === 'WARDEN_BLOCKED') return { kind: 'blocked', code, message };
  return { kind: 'error', code, message };
}

function rowsOf(body: string): (string | null)[][] {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return [];
  }
  const list = Array.isArray(v) ? v : [v];
  return list.map((o) =>
    Object.values(o as Record<string, unknown>).map((x) =>
      x === null ? null : typeof x === 'string' ? x : JSON.stringify(x),
    ),
  );
}

class HttpSession implements ClientSession {
  constructor(
    private readonly c: RawHttp,
    private readonly token: string,
    private readonly connection: string,
  ) {}

  async run(op: OperationName, opts: { timeoutMs?: number } = {}): Promise<Outcome> {
    const r = REQUESTS[op];
    if (!r) throw new Error(`${op} has no HTTP form`);
    if (this.c.closed) return { ok: false, sessionEnded: true };
    const body = r.body ? Buffer.from(r.body) : null;
    this.c.socket.write(
      `${r.method} /${this.connection}${r.path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${this.token}\r\n` +
        (body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : '') +
        '\r\n',
    );
    if (body) this.c.socket.write(body);
    const res = await this.c.response(opts.timeoutMs ?? 15_000);
    if (!res) return { ok: false, sessionEnded: true };
    if (res.status >= 200 && res.status < 300) return { ok: true, rows: rowsOf(res.body), sessionEnded: false };
    const refused = refusalOf(res);
    // An HTTP session ends with its identity (the gateway closes it); the connection may stay.
    return { ok: false, refused, sessionEnded: refused.kind === 'identity' || this.c.closed };
  }

  async malformed(): Promise<Outcome> {
    // A session opens with a first request (HTTP has no login); then bytes that are not HTTP.
    const first = await this.run('allowedRead');
    if (!first.ok) return first;
    this.c.socket.write('NOT HTTP AT ALL\r\n\r\n');
    const res = await this.c.response(10_000);
    await new Promise<void>((r) => (this.c.closed ? r() : this.c.socket.once('close', () => r())));
    if (!res) return { ok: false, sessionEnded: true };
    return { ok: false, refused: refusalOf(res), sessionEnded: this.c.closed };
  }

  async loseTarget(): Promise<void> {
    target?.up.closeConnections();
  }

  async close(): Promise<void> {
    if (this.c.closed) return;
    this.c.socket.end();
    await new Promise<void>((r) => this.c.socket.once('close', () => r()));
  }
}

let target: { up: Upstream & { closeConnections(): void } } | undefined;

export function httpTarget(): ConformanceTarget {
  let up: (Upstream & { closeConnections(): void }) | undefined;
  let gw: HttpGateway | undefined;
  const counts: Record<string, number> = {};
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the HTTP conformance target is not started');
    return v;
  };

  return {
    name: 'http',
    connection: 'api',
    downConnection: 'down',
    prepares: false,
    targetCredentials: [UPSTREAM_KEY],
    conditions: { block: onPath(COUNTED.blockedOp), review: onPath(COUNTED.reviewOp), hold: onPath(COUNTED.holdOp) },
    maskColumns: ['email', 'phone', 'ssn', 'card_number'],
    codes: {
      blocked: '403',
      review: '403',
      identity: '401',
      targetDown: '502',
      malformed: '400',
      preAuthTooLarge: '431',
      handshakeTimeout: '408',
      tooManySessions: '429',
    },
    expected: { allowedRows: [['Ada Lovelace']] },
    knownGaps: {
      mask: 'HTTP exchanges are recorded as a masked body (`output`), not as `rows`: the suite reads rows',
      targetDown:
        'HTTP has no login: a down target is a 502 problem on the first request (test/integration/http/bad-input.test.ts), not a refused session',
      targetLost:
        'HTTP sessions hold no upstream state: a lost upstream connection is replaced by the pool and the next request succeeds',
      revocation:
        'HTTP has no login: a revoked token is refused (401) at its next request, not at connect (test/integration/http/bad-input.test.ts)',
      driftShape: 'not applicable: HTTP has no prepared statements or learnt result shapes to redefine',
      driftTarget: 'not applicable: each HTTP response is masked as it streams, nothing is learnt ahead of it',
      driftStatement: 'not applicable: every HTTP request is decided on its own method, path and body',
      sessionLimits:
        'HTTP has no login step to refuse with 429; the per-identity session limit applies when the first request opens the session',
    },

    async start({ policy }): Promise<StartedGateway> {
      const base = await startUpstream((req, res) => {
        const path = req.url ?? '';
        if (req.headers.authorization !== `Bearer ${UPSTREAM_KEY}`) {
          res.writeHead(401).end();
          return;
        }
        if (path === '/customers/1') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ name: CUSTOMERS[0]!.name }));
          return;
        }
        if (path === '/customers') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(CUSTOMERS));
          return;
        }
        if (req.method === 'POST' && Object.values(COUNTED).includes(path)) {
          counts[path] = (counts[path] ?? 0) + 1;
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end('{"ok":true}');
          return;
        }
        res.writeHead(404).end();
      });
      up = Object.assign(base, { closeConnections: () => {} });
      target = { up };
      const closedPort = await freePort();
      gw = await startHttpGateway({
        connections: `  api:
    type: http
    url: ${base.url}
    headers:
      Authorization: Bearer ${UPSTREAM_KEY}
  down:
    type: http
    url: http://127.0.0.1:${closedPort}
`,
        policy,
      });
      return { apiUrl: gw.apiUrl, recordingsDir: join(gw.dir, 'recordings') };
    },

    token: (sub, groups, ttlMs) => need(gw).token(sub, groups, ttlMs),

    async connect(token, opts = {}): Promise<Connected> {
      const c = await RawHttp.open(need(gw).httpPort);
      return { session: new HttpSession(c, token, opts.connection ?? 'api') };
    },

    async secrets() {
      return CUSTOMERS.flatMap((c) => [c.email, c.ssn, c.card_number, c.phone]);
    },

    async effects(op) {
      return counts[COUNTED[op]] ?? 0;
    },

    async oversizedPreAuth() {
      const c = await RawHttp.open(need(gw).httpPort);
      const announcedBytes = 16 * 1024 * 1024;
      let sentBytes = 0;
      try {
        c.socket.write('GET /api/customers HTTP/1.1\r\nHost: gateway\r\nX-Padding: ');
        const chunk = Buffer.alloc(64 * 1024, 'a');
        while (sentBytes < announcedBytes && !c.closed) {
          const flushed = c.socket.write(chunk);
          sentBytes += chunk.length;
          if (!flushed)
            await new Promise<void>((r) => {
              const done = () => r();
              c.socket.once('drain', done);
              c.socket.once('close', done);
            });
        }
        const res = await c.response(10_000);
        await new Promise<void>((r) => (c.closed ? r() : c.socket.once('close', () => r())));
        return { ...(res ? { refused: refusalOf(res) } : {}), closed: c.closed, announcedBytes, sentBytes };
      } finally {
        c.socket.destroy();
      }
    },

    async idleHandshake() {
      const opened = Date.now();
      const c = await RawHttp.open(need(gw).httpPort);
      try {
        const res = await c.response(15_000);
        await new Promise<void>((r) => (c.closed ? r() : c.socket.once('close', () => r())));
        return { ...(res ? { refused: refusalOf(res) } : {}), closedAfterMs: Date.now() - opened };
      } finally {
        c.socket.destroy();
      }
    },

    failAudit: () => failOperationAudits(need(gw).running.gateway.audit),

    async stop() {
      await gw?.stop();
      await up?.close();
      gw = undefined;
      up = undefined;
    },
  };
}
