// The SSH engine's conformance fixture: Debian's sshd as the target (test/helpers/sshd.ts) with a
// customers file and four counted programs, the gateway's SSH front door in front of it, and
// sessions spoken by a real SSH client (ssh2) over one TCP connection: one SSH login per session,
// one exec channel per operation, so a session lives across operations as with `ssh` and
// ControlMaster. SSH has no error codes: the fixture names what the client saw on the wire —
// `126` (exit status of a refused command, the reason on stderr), `255` (exit status when the
// target is lost under a session), an SSH_MSG_DISCONNECT reason name (a session refused at login
// after the identity checked out: SERVICE_NOT_AVAILABLE for a down target, TOO_MANY_CONNECTIONS
// for the limits — OpenSSH prints the description and exits 255), `closed` (the gateway ended the
// SSH connection for the identity: USERAUTH_FAILURE at login, or exit 126 "session ended: …" then
// the connection closed).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { type SshGateway, startSshGateway } from '../integration/ssh/support.js';
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

/** Values the content detectors recognise (SSH output is masked by content: DESIGN §8). */
const CUSTOMERS = [
  ['Ada Lovelace', 'ada@example.com', '123-45-6789', '4111 1111 1111 1111', '+1 415 555 0100'],
  ['Alan Turing', 'alan@example.org', '078-05-1120', '5555 5555 5555 4444', '+44 20 7946 0958'],
];

/** Programs on the target that append one line to their log each time they run. */
const COUNTED: Record<CountedOperation, string> = {
  allowedWrite: 'conformance-write',
  blockedOp: 'conformance-block',
  reviewOp: 'conformance-review',
  holdOp: 'conformance-hold',
};

const COMMANDS: Partial<Record<OperationName, string>> = {
  allowedRead: 'cat ~/conformance/customer-1.csv',
  maskedRead: 'cat ~/conformance/customers.csv',
  allowedWrite: `~/bin/${COUNTED.allowedWrite}`,
  blockedOp: `~/bin/${COUNTED.blockedOp}`,
  reviewOp: `~/bin/${COUNTED.reviewOp}`,
  holdOp: `~/bin/${COUNTED.holdOp}`,
};

/**
 * State drift, in SSH terms: the gateway reads a harmless file (it learns nothing from output but
 * masks it by content as it streams), then the file, or a program, is redefined behind it.
 */
const DRIFT: Partial<Record<OperationName, (s: SshSession, gw: SshGateway) => Promise<Outcome>>> = {
  // Redefined through the gateway, in the same session.
  driftShape: async (s) => {
    await s.runCommand('drift', 'cp ~/conformance/customer-1.csv ~/conformance/drift-shape.csv');
    const first = await s.runCommand('drift', 'cat ~/conformance/drift-shape.csv');
    if (!first.ok) return first;
    await s.runCommand('drift', 'cp ~/conformance/customers.csv ~/conformance/drift-shape.csv');
    return s.runCommand('drift', 'cat ~/conformance/drift-shape.csv');
  },
  // Redefined straight at the target, by another login.
  driftTarget: async (s, gw) => {
    gw.target.direct('cp ~/conformance/customer-1.csv ~/conformance/drift-target.csv');
    const first = await s.runCommand('drift', 'cat ~/conformance/drift-target.csv');
    if (!first.ok) return first;
    gw.target.direct('cp ~/conformance/customers.csv ~/conformance/drift-target.csv');
    return s.runCommand('drift', 'cat ~/conformance/drift-target.csv');
  },
  // A harmless program on the host redefined (at the target) to run the blocked one.
  driftStatement: async (s, gw) => {
    gw.target.direct(
      `printf '#!/bin/sh\\necho harmless\\n' > ~/bin/conformance-harmless && chmod +x ~/bin/conformance-harmless`,
    );
    const first = await s.runCommand('drift', '~/bin/conformance-harmless');
    if (!first.ok) return first;
    gw.target.direct(`printf '#!/bin/sh\\nexec ~/bin/${COUNTED.blockedOp}\\n' > ~/bin/conformance-harmless`);
    return s.runCommand('drift', '~/bin/conformance-harmless');
  },
};

const runs = (program: string) => `op.kind == 'command' && op.command.programs.exists(p, p == '${program}')`;

interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The refusal a command's exit status and stderr carry (the gateway's line is `warden: …`). */
function refusalOf(r: ExecResult, closed: boolean): Refusal | undefined {
  const said = /^warden: (.*)$/m.exec(r.stderr)?.[1];
  if (r.status === 0 || said === undefined) return r.status === 0 ? undefined : errorOf(r);
  const code = String(r.status);
  const review = /^approval required: review (\S+?)[;,\s]/.exec(said);
  if (review) return { kind: 'review', code, message: said, reviewId: review[1] as string };
  if (/^session ended/.test(said) && closed) return { kind: 'identity', code: 'closed', message: said };
  if (/^blocked/.test(said)) return { kind: 'blocked', code, message: said };
  return { kind: 'error', code, message: said };
}

function errorOf(r: ExecResult): Refusal {
  return { kind: 'error', code: String(r.status ?? 'none'), message: r.stderr.trim() || 'no exit status' };
}

const rowsOf = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split(','));

class SshSession implements ClientSession {
  closed = false;
  constructor(
    private readonly client: ssh2.Client,
    private readonly fixture: { gw: SshGateway },
    /** The target's processes serving this session's upstream login (for loseTarget). */
    private readonly upstreamPids: string[],
  ) {
    client.on('close', () => {
      this.closed = true;
    });
  }

  private exec(command: string, timeoutMs: number): Promise<ExecResult | null> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(null);
      const timer = setTimeout(() => resolve(null), timeoutMs);
      let stdout = '';
      let stderr = '';
      let status: number | null = null;
      try {
        this.client.exec(command, (err, ch) => {
          if (err) {
            clearTimeout(timer);
            return resolve(null);
          }
          ch.end();
          ch.on('data', (d: Buffer) => {
            stdout += d.toString('utf8');
          });
          ch.stderr.on('data', (d: Buffer) => {
            stderr += d.toString('utf8');
          });
          ch.on('exit', (code: number | null) => {
            status = code;
          });
          ch.on('close', () => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr });
          });
        });
      } catch {
        clearTimeout(timer);
        resolve(null);
      }
    });
  }

  /** After a refusal that ends the session, the gateway closes the connection: wait for it. */
  private async settle(r: ExecResult): Promise<void> {
    if (!/^warden: (session ended|.*the session ends)/m.test(r.stderr)) return;
    const deadline = Date.now() + 5000;
    while (!this.closed && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  }

  async run(op: OperationName, opts: { timeoutMs?: number } = {}): Promise<Outcome> {
    const drift = DRIFT[op];
    if (drift) return drift(this, this.fixture.gw);
    return this.runCommand(op, COMMANDS[op], opts);
  }

  async runCommand(op: string, command: string | undefined, opts: { timeoutMs?: number } = {}): Promise<Outcome> {
    if (!command) throw new Error(`${op} has no SSH form`);
    const r = await this.exec(command, opts.timeoutMs ?? 15_000);
    if (!r) return { ok: false, sessionEnded: this.closed };
    await this.settle(r);
    const refused = refusalOf(r, this.closed);
    if (!refused) return { ok: true, rows: rowsOf(r.stdout), sessionEnded: this.closed };
    return { ok: false, rows: rowsOf(r.stdout), refused, sessionEnded: this.closed };
  }

  async malformed(): Promise<Outcome> {
    // After a first command (the session is in use), bytes no SSH client sends (they
    // fail the packet MAC of the encrypted stream).
    const first = await this.run('allowedRead');
    if (!first.ok) return first;
    const sock = (this.client as unknown as { _sock: Socket })._sock;
    let error: Error | undefined;
    this.client.on('error', (e) => {
      error = e;
    });
    sock.write(Buffer.alloc(256, 0x41));
    const deadline = Date.now() + 10_000;
    while (!this.closed && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    // A native reason is an SSH_MSG_DISCONNECT, which ssh2 reports as an error naming it.
    const said = error && /disconnect/i.test(error.message) ? error.message : undefined;
    return {
      ok: false,
      ...(said ? { refused: { kind: 'error' as const, code: 'closed', message: said } } : {}),
      sessionEnded: this.closed,
    };
  }

  async loseTarget(): Promise<void> {
    for (const pid of this.upstreamPids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {}
    }
  }

  /** The suite prints what connect() returned: not the client's internals. */
  toJSON(): object {
    return { ssh: 'session', closed: this.closed };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const done = new Promise<void>((r) => this.client.once('close', () => r()));
    this.client.end();
    await done;
  }
}

/** The target user's processes (sshd's per-connection processes, and whatever they run). */
function userPids(gw: SshGateway): string[] {
  try {
    return execFileSync('pgrep', ['-u', gw.target.user], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** SSH_MSG_DISCONNECT reason codes the gateway sends at login (RFC 4253 §11.1). */
const DISCONNECT_NAMES: Record<number, string> = {
  1: 'HOST_NOT_ALLOWED_TO_CONNECT',
  7: 'SERVICE_NOT_AVAILABLE',
  12: 'TOO_MANY_CONNECTIONS',
};

/** Log in to the gateway with the token as the password (what sshpass does for ssh). */
function login(port: number, connection: string, token: string): Promise<Connected | { client: ssh2.Client }> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let settled = false;
    client.on('ready', () => {
      settled = true;
      resolve({ client });
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      const message = err.message;
      // SSH_MSG_DISCONNECT: ssh2 reports its reason code (a number) and description.
      const disconnect =
        typeof (err as { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : null;
      resolve({
        refused:
          err.level === 'client-authentication'
            ? { kind: 'identity', code: 'closed', message: `authentication refused: ${message}` }
            : disconnect !== null
              ? { kind: 'error', code: DISCONNECT_NAMES[disconnect] ?? `disconnect ${disconnect}`, message }
              : { kind: 'error', code: String(err.level ?? 'error'), message },
      });
    });
    client.connect({
      host: '127.0.0.1',
      port,
      username: connection,
      password: token,
      tryKeyboard: false,
      readyTimeout: 15_000,
      // The fixture's own gateway, on loopback.
      hostVerifier: () => true,
    });
  });
}

export function sshTarget(): ConformanceTarget {
  let gw: SshGateway | undefined;
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the SSH conformance target is not started');
    return v;
  };
  const logOf = (op: CountedOperation) => join(need(gw).target.home, 'conformance', `${COUNTED[op]}.log`);

  return {
    name: 'ssh',
    connection: 'web-1',
    downConnection: 'down-1',
    prepares: false,
    targetCredentials: [],
    conditions: { block: runs(COUNTED.blockedOp), review: runs(COUNTED.reviewOp), hold: runs(COUNTED.holdOp) },
    maskColumns: ['email', 'phone', 'ssn', 'card_number'],
    codes: {
      blocked: '126',
      review: '126',
      identity: 'closed',
      targetDown: 'SERVICE_NOT_AVAILABLE',
      malformed: 'closed',
      preAuthTooLarge: 'closed',
      handshakeTimeout: 'closed',
      tooManySessions: 'TOO_MANY_CONNECTIONS',
    },
    expected: { allowedRows: [['Ada Lovelace']] },
    knownGaps: {
      malformed:
        'ssh2 closes the connection on a packet that fails its MAC without sending SSH_MSG_DISCONNECT: the client sees ' +
        'the connection closed (session ended and audited), no reason on the wire',
      oversizedPreAuth:
        'ssh2 refuses a pre-auth packet over its size limit by closing the socket (it stops reading), without ' +
        'SSH_MSG_DISCONNECT: no native reason reaches the client',
      driftStatement:
        'commands are decided on the programs their line names; what a program on the host runs in turn (a script ' +
        'redefined to run the blocked one) is not visible to the gateway: restrict such hosts by allow-listing programs',
    },

    async start({ policy }): Promise<StartedGateway> {
      gw = await startSshGateway({ policy });
      const t = gw.target;
      const scripts = Object.values(COUNTED)
        .map(
          (p) =>
            `printf '#!/bin/sh\\necho ran >> ~/conformance/${p}.log\\n' > ~/bin/${p} && chmod +x ~/bin/${p} && : > ~/conformance/${p}.log`,
        )
        .join(' && ');
      t.direct(`mkdir -p ~/bin ~/conformance && ${scripts}`);
      const csv = (rows: string[][]) => `${rows.map((r) => r.join(',')).join('\n')}\n`;
      writeFileSync(join(t.home, 'conformance', 'customers.csv'), csv(CUSTOMERS));
      writeFileSync(join(t.home, 'conformance', 'customer-1.csv'), csv([[CUSTOMERS[0]![0]!]]));
      execFileSync('chown', ['-R', `${t.user}:${t.user}`, join(t.home, 'conformance')]);
      return { apiUrl: gw.running.apiUrl, recordingsDir: join(gw.dir, 'recordings') };
    },

    token: (sub, groups, ttlMs) => need(gw).token(sub, groups, ttlMs),

    async connect(token, opts = {}): Promise<Connected> {
      const g = need(gw);
      // The gateway logs in to the target while it logs this client in: the target's new
      // processes are this session's upstream.
      const before = userPids(g);
      const r = await login(g.sshPort, opts.connection ?? 'web-1', token);
      const pids = userPids(g).filter((p) => !before.includes(p));
      if ('client' in r) return { session: new SshSession(r.client, { gw: g }, pids) };
      return r;
    },

    async secrets() {
      return CUSTOMERS.flatMap((c) => c.slice(1));
    },

    async effects(op) {
      return readFileSync(logOf(op), 'utf8').split('\n').filter(Boolean).length;
    },

    async oversizedPreAuth() {
      // After the version exchange, a first binary packet announcing 16 MiB (RFC 4253 §6.1
      // allows 35000 bytes), then its bytes.
      const announcedBytes = 16 * 1024 * 1024;
      const sock = await open(need(gw).sshPort);
      try {
        await sock.line();
        sock.s.write('SSH-2.0-conformance\r\n');
        const head = Buffer.alloc(5);
        head.writeUInt32BE(announcedBytes, 0);
        head[4] = 4;
        sock.s.write(head);
        let sentBytes = 0;
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        while (sentBytes < announcedBytes && !sock.closed) {
          const flushed = sock.s.write(chunk);
          sentBytes += chunk.length;
          if (!flushed) await sock.drainOrClose();
        }
        await sock.waitClosed(10_000);
        const said = disconnectOf(sock.data);
        return {
          ...(said ? { refused: { kind: 'error' as const, code: 'closed', message: said } } : {}),
          closed: sock.closed,
          announcedBytes,
          sentBytes,
        };
      } finally {
        sock.s.destroy();
      }
    },

    async idleHandshake() {
      const opened = Date.now();
      const sock = await open(need(gw).sshPort);
      try {
        await sock.waitClosed(15_000);
        return { closedAfterMs: Date.now() - opened };
      } finally {
        sock.s.destroy();
      }
    },

    failAudit: () => failOperationAudits(need(gw).running.gateway.audit),

    async stop() {
      await gw?.stop();
      gw = undefined;
    },
  };
}

/** What the gateway said before closing: its DISCONNECT's reason code, when it sent one. */
function disconnectOf(data: Buffer): string | undefined {
  const text = data.toString('latin1');
  const ident = text.indexOf('\n');
  const rest = data.subarray(ident + 1);
  // Before key exchange, packets are plain: uint32 length, byte padding, payload (1 = DISCONNECT).
  if (rest.length >= 10 && rest[5] === 1) return `disconnected (reason ${rest.readUInt32BE(6)})`;
  return undefined;
}

interface RawSocket {
  s: Socket;
  closed: boolean;
  data: Buffer;
  line(): Promise<string>;
  drainOrClose(): Promise<void>;
  waitClosed(ms: number): Promise<void>;
}

function open(port: number): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1', () => {
      const raw: RawSocket = {
        s,
        closed: false,
        data: Buffer.alloc(0),
        line: () =>
          new Promise((res) => {
            const check = () => {
              const i = raw.data.indexOf('\n');
              if (i >= 0 || raw.closed) {
                s.off('data', check);
                res(raw.data.subarray(0, Math.max(0, i)).toString('latin1'));
              }
            };
            s.on('data', check);
            check();
          }),
        drainOrClose: () =>
          new Promise((res) => {
            const done = () => {
              s.off('drain', done);
              s.off('close', done);
              res();
            };
            s.once('drain', done);
            s.once('close', done);
          }),
        waitClosed: (ms) =>
          new Promise((res) => {
            if (raw.closed) return res();
            const t = setTimeout(res, ms);
            s.once('close', () => {
              clearTimeout(t);
              res();
            });
          }),
      };
      s.on('data', (d: Buffer) => {
        if (raw.data.length < 64 * 1024) raw.data = Buffer.concat([raw.data, d]);
      });
      s.on('close', () => {
        raw.closed = true;
      });
      s.on('error', () => {});
      resolve(raw);
    });
    s.once('error', reject);
  });
}
