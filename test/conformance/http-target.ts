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

/**
 * State drift in HTTP terms: what a route answers (or where it sends the client) is redefined
 * at the upstream between two identical requests. The gateway learns nothing from one response
 * for the next, so each is masked as it streams, and a redirect the upstream answers with is
 * followed by the client as a new request, decided on its own (the gateway never follows one
 * upstream on the client's behalf).
 */
const DRIFT = { shape: '/drift_shape', target: '/drift_target', statement: '/drift_statement' };
const HARMLESS = JSON.stringify([{ name: 'harmless' }]);

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
  driftShape: { method: 'GET', path: DRIFT.shape },
  driftTarget: { method: 'GET', path: DRIFT.target },
  driftStatement: { method: 'POST', path: DRIFT.statement, body: '{"note":"drift"}' },
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
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const redefine = op === 'driftShape' || op === 'driftTarget' || op === 'driftStatement' ? drift[op] : null;
    if (redefine) {
      // The gateway sees the harmless answer first; then the route is redefined at the upstream.
      const learnt = await this.send(r.method, `/${this.connection}${r.path}`, r.body, timeoutMs);
      if (!learnt.ok) return learnt;
      await redefine();
    }
    return this.send(r.method, `/${this.connection}${r.path}`, r.body, timeoutMs);
  }

  /** One request; redirects are followed as a client does (307/308 keep the method and body). */
  private async send(method: string, target: string, body: string | undefined, timeoutMs: number): Promise<Outcome> {
    for (let hops = 0; ; hops++) {
      if (this.c.closed) return { ok: false, sessionEnded: true };
      const bytes = body ? Buffer.from(body) : null;
      this.c.socket.write(
        `${method} ${target} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${this.token}\r\n` +
          (bytes ? `Content-Type: application/json\r\nContent-Length: ${bytes.length}\r\n` : '') +
          '\r\n',
      );
      if (bytes) this.c.socket.write(bytes);
      const res = await this.c.response(timeoutMs);
      if (!res) return { ok: false, sessionEnded: true };
      // `Connection: close` is how an HTTP server ends the session with this response.
      const ending = this.c.closed || /\bclose\b/i.test(res.headers.connection ?? '');
      const location = res.headers.location;
      if ((res.status === 307 || res.status === 308) && location?.startsWith('/') && hops < 5 && !ending) {
        target = location;
        continue;
      }
      if (res.status >= 200 && res.status < 300) return { ok: true, rows: rowsOf(res.body), sessionEnded: ending };
      const refused = refusalOf(res);
      return { ok: false, refused, sessionEnded: refused.kind === 'identity' || ending };
    }
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
    // The upstream drops the connection the session's next request travels on (HTTP sessions
    // share the gateway's upstream pool, so that is the connection this session loses).
    resetNext = true;
  }

  async close(): Promise<void> {
    if (this.c.closed) return;
    this.c.socket.end();
    await new Promise<void>((r) => this.c.socket.once('close', () => r()));
  }
}

/** The upstream resets the next request it gets (the target going away under a session). */
let resetNext = false;
/** How the fixture redefines each drift route at the upstream, behind the gateway's back. */
const drift: Record<'driftShape' | 'driftTarget' | 'driftStatement', () => Promise<void>> = {
  driftShape: async () => {},
  driftTarget: async () => {},
  driftStatement: async () => {},
};

export function httpTarget(): ConformanceTarget {
  let up: Upstream | undefined;
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

    async start({ policy }): Promise<StartedGateway> {
      // What each drift route answers: the harmless list, the customers, or a redirect.
      const routes: Record<string, { json: string } | { redirect: string }> = {
        [DRIFT.shape]: { json: HARMLESS },
        [DRIFT.target]: { json: HARMLESS },
        [DRIFT.statement]: { json: HARMLESS },
      };
      const base = await startUpstream((req, res, body) => {
        const path = req.url ?? '';
        if (resetNext) {
          resetNext = false;
          req.socket.destroy();
          return;
        }
        if (req.headers.authorization !== `Bearer ${UPSTREAM_KEY}`) {
          res.writeHead(401).end();
          return;
        }
        if (req.method === 'PUT' && path.startsWith('/_routes/')) {
          // Another session, straight at the target, redefines a route.
          routes[path.slice('/_routes'.length)] = JSON.parse(body);
          res.writeHead(204).end();
          return;
        }
        const route = routes[path];
        if (route && 'redirect' in route) {
          res.writeHead(307, { location: `${base.url}${route.redirect}` }).end();
          return;
        }
        if (route) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(route.json);
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
      up = base;
      const direct = async (route: string, to: { json: string } | { redirect: string }) => {
        const r = await fetch(`${base.url}/_routes${route}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${UPSTREAM_KEY}` },
          body: JSON.stringify(to),
        });
        if (r.status !== 204) throw new Error(`redefining ${route} at the upstream: ${r.status}`);
      };
      // Shape: the upstream's own state changes between the two requests (nothing is sent).
      drift.driftShape = async () => {
        routes[DRIFT.shape] = { json: JSON.stringify(CUSTOMERS) };
      };
      // Target: a direct request to the upstream (not through the gateway) redefines the route.
      drift.driftTarget = () => direct(DRIFT.target, { json: JSON.stringify(CUSTOMERS) });
      // Decision: the harmless POST now sends the client on to the blocked one (a 307 keeps the method).
      drift.driftStatement = () => direct(DRIFT.statement, { redirect: COUNTED.blockedOp });
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
      // HTTP's login: `OPTIONS` with `Max-Forwards: 0` is answered by the gateway itself (RFC
      // 9110 §7.6.2), which opens the session (token, grant, limits) and checks the target is
      // reachable, without an operation; the session's requests then follow on this connection.
      const connection = opts.connection ?? 'api';
      const c = await RawHttp.open(need(gw).httpPort);
      c.socket.write(
        `OPTIONS /${connection}/ HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer ${token}\r\nMax-Forwards: 0\r\n\r\n`,
      );
      const res = await c.response();
      if (res?.status === 204) return { session: new HttpSession(c, token, connection) };
      c.socket.destroy();
      return {
        refused: res ? refusalOf(res) : { kind: 'error', code: 'closed', message: 'the gateway closed the connection' },
      };
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
