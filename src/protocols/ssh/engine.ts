// The SSH front door (DESIGN.md §8): an ssh2 server on each admitted socket. SSH user name =
// connection name; the password (or the keyboard-interactive answer) is the identity token, or a
// public key with a gateway-issued OpenSSH user certificate (./cert-auth.ts). The gateway logs
// into the target itself (./upstream.ts) and decides each exec before it runs (./exec.ts), each
// line of a pty shell at Enter (./shell.ts), each SFTP request (./sftp.ts), each direct-tcpip
// forward (./forward.ts). Agent and X11 forwarding and remote (-R) forwards are always refused.
import type { Duplex } from 'node:stream';
import ssh2, { type AuthenticationType, type Connection, type PseudoTtyOptions, type ServerChannel } from 'ssh2';
import { WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { GatewaySession } from '../../gateway/index.js';
import type { ClientStream, EngineHost, EngineInstance, InProcessRequest, ProtocolEngine } from '../engine.js';
import type { Admission } from '../limits.js';
import { userCa } from './ca.js';
import { type CertificateLogin, certificateLogin, type PublicKeyAttempt } from './cert-auth.js';
import { ED25519_CERT } from './certificate.js';
import { DISCONNECT, disconnectWithReason } from './disconnect.js';
import { REFUSED_STATUS, runExec, targetLost } from './exec.js';
import { runForward } from './forward.js';
import { gatewayHostKey } from './host-key.js';
import { sshInProcess } from './in-process.js';
import { runSftp } from './sftp.js';
import { runShell, type WindowSize } from './shell.js';
import { connectUpstream, type SshConnectionConfig, type Upstream, UpstreamError } from './upstream.js';

const TOKEN_PROMPT = 'Warden identity token (password): ';
/** Offered after a refusal: a certificate (warden ssh-cert), or the token typed or as password. */
const AUTH_METHODS: AuthenticationType[] = ['publickey', 'keyboard-interactive', 'password'];

class SshFrontDoor implements EngineInstance {
  private server: ssh2.Server | undefined;
  private serverReady: Promise<ssh2.Server> | undefined;
  private readonly clients = new Set<ClientConnection>();

  constructor(private readonly host: EngineHost) {
    // The host key and the ssh2 server are made now, before the listener accepts, not by the
    // first connections (CI saw a suite's concurrent first connections all closed before the
    // version exchange); a failure here is retried by the first connection.
    this.ensureServer().catch((err: unknown) => host.logger.warn({ err }, 'SSH front door: host key not ready'));
  }

  refusal(): Buffer | null {
    // Before the version exchange there is no SSH way to say why: just close.
    return null;
  }

  /** REST exec and MCP: an SSH client connection whose identity the API verified (./in-process.ts). */
  inProcess(req: InProcessRequest): Duplex {
    return sshInProcess(this.host, req, (stream, admission) => this.serve(stream, admission, req));
  }

  async serve(socket: ClientStream, admission: Admission, inProcess: InProcessRequest | null = null): Promise<void> {
    const server = await this.ensureServer();
    const client = new ClientConnection(this.host, admission, socket.remoteAddress ?? '', inProcess);
    this.clients.add(client);
    client.done.then(() => this.clients.delete(client));
    this.bySocket.set(socket, client);
    // ssh2 calls the connection listener once the client's version line arrived (or never).
    socket.once('close', () => {
      this.bySocket.delete(socket);
      void client.shutdown('client disconnected');
    });
    server.injectSocket(socket as never);
    socket.resume();
  }

  /** Injected sockets until ssh2 reports their connection (it knows them as `_sock`). */
  private readonly bySocket = new WeakMap<object, ClientConnection>();

  private ensureServer(): Promise<ssh2.Server> {
    this.serverReady ??= gatewayHostKey(this.host.dataDir).then((key) => {
      this.server = new ssh2.Server({ hostKeys: [key], ident: 'Warden' }, (conn) => {
        const socket = (conn as unknown as { _sock?: object })._sock;
        const client = socket ? this.bySocket.get(socket) : undefined;
        if (!client) {
          conn.end();
          return;
        }
        client.attach(conn);
      });
      return this.server;
    });
    // A failure (an unreadable key) is not kept: the next connection tries again.
    this.serverReady.catch(() => {
      this.serverReady = undefined;
    });
    return this.serverReady;
  }

  async close(reason: string): Promise<void> {
    await Promise.all([...this.clients].map((c) => c.shutdown(reason)));
  }
}

/** One client's SSH connection: its session, its upstream login, its channels. */
class ClientConnection {
  private identity: Identity | null = null;
  /** Why the last certificate was refused, for the token prompt that may follow. */
  private certificateRefusal: string | null = null;
  private connection = '';
  private session: Promise<GatewaySession> | null = null;
  private conn: Connection | null = null;
  private upstream: Promise<Upstream> | null = null;
  private resolveDone: () => void = () => {};
  readonly done = new Promise<void>((r) => {
    this.resolveDone = r;
  });

  constructor(
    private readonly host: EngineHost,
    private readonly admission: Admission,
    private readonly address: string,
    /** Set for in-process streams only (never a listener socket): the login needs no credential. */
    private readonly inProcess: InProcessRequest | null = null,
  ) {
    if (inProcess) {
      this.identity = inProcess.identity;
      this.connection = inProcess.connection;
    }
  }

  attach(conn: Connection): void {
    this.conn = conn;
    this.admission.signal.addEventListener('abort', () => conn.end(), { once: true });
    conn.on('error', () => {});
    conn.on('authentication', (ctx) => {
      // The identity checked out: the session opens and the target is logged in to now, so a
      // refusal (no access, too many sessions, target down) is said at login, not at a command.
      const admit = () =>
        this.admit().then(
          () => ctx.accept(),
          (err: unknown) => this.refuse(conn, err),
        );
      if (this.identity) return void admit();
      if (ctx.method === 'password') {
        this.admission.handshakeDone();
        this.verify(ctx.username, () => this.host.authenticate(ctx.password)).then(admit, () =>
          ctx.reject(AUTH_METHODS),
        );
        return;
      }
      if (ctx.method === 'publickey') {
        this.admission.handshakeDone();
        const attempt = { algo: ctx.key.algo, key: ctx.key.data, signature: ctx.signature, blob: ctx.blob };
        // Without a signature this is the client asking whether the key would do: yes (PK_OK)
        // when the certificate would; it is signed next, and only that request logs in.
        this.verifyCertificate(ctx.username, attempt).then(
          () => (attempt.signature === undefined ? ctx.accept() : admit()),
          () => ctx.reject(AUTH_METHODS),
        );
        return;
      }
      if (ctx.method === 'keyboard-interactive') {
        // A certificate refused just before has no way to say why (publickey has no message):
        // the token prompt that follows says it.
        const why = this.certificateRefusal ? `warden: ${this.certificateRefusal}` : '';
        ctx.prompt([{ prompt: TOKEN_PROMPT, echo: false }], '', why, (answers) => {
          this.admission.handshakeDone();
          this.verify(ctx.username, () => this.host.authenticate(answers[0] ?? '')).then(admit, (err: unknown) => {
            // OpenSSH prints the instruction of an info request: the reason, in words.
            const why = err instanceof WardenError ? err.message : 'authentication failed';
            ctx.prompt([], 'Warden', `warden: ${why}`, () => ctx.reject(AUTH_METHODS));
          });
        });
        return;
      }
      ctx.reject(AUTH_METHODS);
    });
    conn.on('ready', () => this.ready(conn));
    conn.on('close', () => void this.end('client disconnected'));
  }

  /**
   * A gateway SSH certificate (./cert-auth.ts): the identity the CA signed into it, then expiry
   * and revocation as for a token (its key id is the token id). `check` only: the query phase.
   */
  private verifyCertificate(connection: string, attempt: PublicKeyAttempt): Promise<void> {
    const signed = attempt.signature !== undefined;
    return this.verify(
      connection,
      async () => {
        let login: CertificateLogin;
        try {
          login = certificateLogin(await userCa(this.host.dataDir), attempt, this.host.clock.now());
          this.host.checkIdentity(login.identity);
        } catch (err) {
          // A plain key tried after a certificate must not hide why the certificate was refused.
          if (err instanceof WardenError && (attempt.algo === ED25519_CERT || !this.certificateRefusal))
            this.certificateRefusal = err.message;
          throw err;
        }
        if (signed)
          this.host.logger.info(
            { connection, client: this.address, sub: login.identity.sub, keyId: login.keyId, serial: login.serial },
            'ssh certificate login',
          );
        return login.identity;
      },
      signed,
    );
  }

  /**
   * The identity (`identify`: a token's signature, expiry, revocation; or a certificate's) and
   * the connection name; the session opens later. `login` false: checked, not logged in.
   */
  private async verify(connection: string, identify: () => Promise<Identity>, login = true): Promise<void> {
    try {
      const conf = this.host.connection(connection);
      if (!conf) throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `no connection named '${connection}'`);
      if (conf.type !== 'ssh')
        throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `connection '${connection}' is not an SSH target`);
      const identity = await identify();
      if (!login) return;
      this.identity = identity;
      this.connection = connection;
    } catch (err) {
      this.host.logger.info(
        {
          connection,
          client: this.address,
          reason: err instanceof WardenError ? err.message : 'authentication failed',
        },
        'ssh authentication refused',
      );
      throw err;
    }
    this.admission.authenticated();
  }

  /**
   * At login: the gateway session (access, limits; its recording waits for the first channel,
   * which picks the format: a pty shell records asciicast, anything else JSON lines), then the
   * gateway's own login to the target. Throws the refusal; a session refused here is closed.
   */
  private async admit(): Promise<void> {
    if (this.session) return;
    const inProcess = this.inProcess;
    const opening = this.host.openSession({
      ...(inProcess ? { protocol: inProcess.caller, onVerdict: inProcess.onVerdict } : { protocol: 'ssh' as const }),
      connection: this.connection,
      identity: this.identity!,
      clientAddress: this.address,
      format: 'deferred',
    });
    this.session = opening;
    let session: GatewaySession;
    try {
      session = await opening;
    } catch (err) {
      inProcess?.onRefused?.(err);
      throw err;
    }
    try {
      await this.loginUpstream();
    } catch (err) {
      // REST exec / MCP run one command per session: its exec reports a down target itself
      // (exit 255 and the reason, the command's outcome), as `ssh` users see it at login.
      if (inProcess && err instanceof UpstreamError) return;
      const why = err instanceof Error ? err.message : 'the target could not be reached';
      await session.close(why).catch(() => {});
      inProcess?.onRefused?.(err);
      throw err;
    }
  }

  /** The gateway's login to the target, watched: a lost target makes the next channel say so. */
  private loginUpstream(): Promise<Upstream> {
    const name = this.connection;
    const login = connectUpstream(name, this.host.connection(name) as SshConnectionConfig);
    this.upstream = login;
    login.then(
      (u) =>
        u.ended.then(() => {
          // The target went away under this session: the next channel says so, and the session ends.
          if (this.upstream === login) this.upstream = targetLost(name);
        }),
      () => {
        // A later channel tries again: a target that was down may be back.
        if (this.upstream === login) this.upstream = null;
      },
    );
    return login;
  }

  /** A refusal after the identity checked out: SSH_MSG_DISCONNECT with the reason (./disconnect.ts). */
  private refuse(conn: Connection, err: unknown): void {
    const why =
      err instanceof WardenError || err instanceof UpstreamError ? err.message : 'the session could not be opened';
    const code =
      err instanceof UpstreamError
        ? DISCONNECT.SERVICE_NOT_AVAILABLE
        : err instanceof WardenError && err.code === 'WARDEN_TOO_MANY_CONNECTIONS'
          ? DISCONNECT.TOO_MANY_CONNECTIONS
          : DISCONNECT.HOST_NOT_ALLOWED_TO_CONNECT;
    this.host.logger.info({ connection: this.connection, client: this.address, reason: why }, 'ssh session refused');
    disconnectWithReason(conn, code, `warden: ${why}`);
    void this.end(`refused: ${why}`);
  }

  /** The session opened at login; the first channel begins its recording in its format. */
  private sessionFor(format: 'jsonl' | 'asciicast', pty: PseudoTtyOptions | null): Promise<GatewaySession> {
    if (!this.session) return Promise.reject(new WardenError('WARDEN_ACCESS_DENIED', 'the session is not open'));
    return this.session.then((session) => {
      // A client without a terminal size (ssh -tt from a pipe) says 0 × 0.
      session.recording.begin(format, pty ? { width: pty.cols || 80, height: pty.rows || 24 } : {});
      return session;
    });
  }

  private ready(conn: Connection): void {
    if (!this.identity) return void conn.end();
    const name = this.connection;
    const upstream = () => this.upstream ?? this.loginUpstream();
    const terminate = (reason: string) => void this.end(reason);
    conn.on('session', (accept) => {
      const s = accept();
      let pty: PseudoTtyOptions | null = null;
      let resize: ((size: WindowSize) => void) | null = null;
      s.on('pty', (ok, _no, info) => {
        pty = { rows: info.rows, cols: info.cols, width: info.width, height: info.height, term: info.term };
        ok?.();
      });
      s.on('window-change', (ok, _no, info) => {
        ok?.();
        resize?.(info);
      });
      s.on('env', (ok) => ok?.());
      s.on('exec', (ok, _no, info) => {
        const channel = ok();
        this.withSession(channel, 'jsonl', pty, (session) =>
          runExec({ session, upstream, terminate }, channel, info.command, pty),
        );
      });
      s.on('shell', (ok, no) => {
        if (!pty) {
          // A shell without a pty has no lines to read off a screen: use exec.
          no?.();
          return;
        }
        const channel = ok();
        const size = pty;
        this.withSession(channel, 'asciicast', size, (session) =>
          runShell(
            {
              session,
              upstream,
              terminate,
              onResize: (f) => {
                resize = f;
              },
            },
            channel,
            size,
          ),
        );
      });
      s.on('sftp', (ok) => {
        const client = ok();
        this.sessionFor('jsonl', null)
          .then((session) => runSftp(session, upstream, client, terminate))
          .catch((err: unknown) => {
            this.host.logger.info({ err, connection: name }, 'ssh sftp ended');
            client.end();
          });
      });
      s.on('subsystem', (_ok, no) => no?.());
      s.on('auth-agent', (_ok, no) => no?.());
      s.on('x11', (_ok, no) => no?.());
    });
    conn.on('tcpip', (ok, no, info) => {
      this.sessionFor('jsonl', null)
        .then((session) => runForward(session, upstream, info, ok, no, terminate))
        .catch((err: unknown) => {
          this.host.logger.info({ err, connection: name }, 'ssh port forward refused');
          try {
            no();
          } catch {}
        });
    });
    conn.on('request', (_ok, no) => no?.());
  }

  /** Runs a channel's work once the session is open; a refused session is said on the channel. */
  private withSession(
    channel: ServerChannel,
    format: 'jsonl' | 'asciicast',
    pty: PseudoTtyOptions | null,
    work: (session: GatewaySession) => Promise<void>,
  ): void {
    this.sessionFor(format, pty)
      .then(work, (err: unknown) => {
        const why = err instanceof WardenError ? err.message : 'the session could not be opened';
        channel.stderr.write(`warden: ${why}\n`);
        channel.exit(REFUSED_STATUS);
        channel.end();
        void this.end(`refused: ${why}`);
      })
      .catch((err: unknown) => {
        this.host.logger.warn({ err, connection: this.connection }, 'ssh channel failed');
        channel.destroy();
      });
  }

  private async end(reason: string): Promise<void> {
    this.conn?.end();
    this.upstream?.then((u) => u.close()).catch(() => {});
    this.upstream = null;
    const s = await this.session?.catch(() => null);
    if (s && !s.closed) await s.close(reason).catch(() => {});
    this.resolveDone();
  }

  shutdown(reason: string): Promise<void> {
    return this.end(reason);
  }
}

export const sshEngine: ProtocolEngine = {
  name: 'ssh',
  create: (host) => new SshFrontDoor(host),
};

export type { Duplex };
