// The SSH front door (DESIGN.md §8): an ssh2 server on each admitted socket. SSH user name =
// connection name; the password (or the keyboard-interactive answer) is the identity token. The
// gateway logs into the target itself (./upstream.ts) and decides each exec before it runs
// (./exec.ts). Shells, SFTP and forwarding are refused until their operations are decided.
import type { Duplex } from 'node:stream';
import ssh2, { type Connection, type PseudoTtyOptions } from 'ssh2';
import { WardenError } from '../../core/errors.js';
import type { GatewaySession } from '../../gateway/index.js';
import type { ClientStream, EngineHost, EngineInstance, ProtocolEngine } from '../engine.js';
import type { Admission } from '../limits.js';
import { runExec } from './exec.js';
import { gatewayHostKey } from './host-key.js';
import { connectUpstream, type SshConnectionConfig, type Upstream } from './upstream.js';

const TOKEN_PROMPT = 'Warden identity token (password): ';

class SshFrontDoor implements EngineInstance {
  private server: ssh2.Server | undefined;
  private serverReady: Promise<ssh2.Server> | undefined;
  private readonly clients = new Set<ClientConnection>();

  constructor(private readonly host: EngineHost) {}

  refusal(): Buffer | null {
    // Before the version exchange there is no SSH way to say why: just close.
    return null;
  }

  async serve(socket: ClientStream, admission: Admission): Promise<void> {
    const server = await this.ensureServer();
    const client = new ClientConnection(this.host, admission, socket.remoteAddress ?? '');
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
    return this.serverReady;
  }

  async close(reason: string): Promise<void> {
    await Promise.all([...this.clients].map((c) => c.shutdown(reason)));
  }
}

/** One client's SSH connection: its session, its upstream login, its channels. */
class ClientConnection {
  private session: GatewaySession | null = null;
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
  ) {}

  attach(conn: Connection): void {
    this.conn = conn;
    this.admission.signal.addEventListener('abort', () => conn.end(), { once: true });
    conn.on('error', () => {});
    conn.on('authentication', (ctx) => {
      if (this.session) return ctx.accept();
      if (ctx.method === 'password') {
        this.admission.handshakeDone();
        this.open(ctx.username, ctx.password).then(
          () => ctx.accept(),
          () => ctx.reject(['keyboard-interactive', 'password']),
        );
        return;
      }
      if (ctx.method === 'keyboard-interactive') {
        ctx.prompt([{ prompt: TOKEN_PROMPT, echo: false }], (answers) => {
          this.admission.handshakeDone();
          this.open(ctx.username, answers[0] ?? '').then(
            () => ctx.accept(),
            (err: unknown) => {
              // OpenSSH prints the instruction of an info request: the reason, in words.
              const why = err instanceof WardenError ? err.message : 'authentication failed';
              ctx.prompt([], 'Warden', `warden: ${why}`, () => ctx.reject(['keyboard-interactive', 'password']));
            },
          );
        });
        return;
      }
      ctx.reject(['keyboard-interactive', 'password']);
    });
    conn.on('ready', () => this.ready(conn));
    conn.on('close', () => void this.end('client disconnected'));
  }

  private async open(connection: string, token: string): Promise<void> {
    const conf = this.host.connection(connection);
    if (conf && conf.type !== 'ssh')
      throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `connection '${connection}' is not an SSH target`);
    try {
      this.session = await this.host.openSession({
        protocol: 'ssh',
        connection,
        token,
        clientAddress: this.address,
      });
    } catch (err) {
      this.host.logger.info(
        { connection, client: this.address, reason: err instanceof WardenError ? err.message : String(err) },
        'ssh session refused',
      );
      throw err;
    }
    this.admission.authenticated();
  }

  private ready(conn: Connection): void {
    const session = this.session;
    if (!session) return void conn.end();
    const config = session.connectionConfig as SshConnectionConfig;
    const upstream = () => {
      this.upstream ??= connectUpstream(session.connection.name, config);
      this.upstream.catch(() => {
        // The next channel tries again: a target that was down may be back.
        this.upstream = null;
      });
      return this.upstream;
    };
    const terminate = (reason: string) => void this.end(reason);
    conn.on('session', (accept) => {
      const s = accept();
      let pty: PseudoTtyOptions | null = null;
      s.on('pty', (ok, _no, info) => {
        pty = { rows: info.rows, cols: info.cols, width: info.width, height: info.height, term: info.term };
        ok?.();
      });
      s.on('env', (ok) => ok?.());
      s.on('exec', (ok, _no, info) => {
        const channel = ok();
        runExec({ session, upstream, terminate }, channel, info.command, pty).catch((err: unknown) => {
          this.host.logger.warn({ err, session: session.id }, 'ssh exec failed');
          channel.destroy();
        });
      });
      s.on('shell', (_ok, no) => no?.());
      s.on('sftp', (_ok, no) => no?.());
      s.on('subsystem', (_ok, no) => no?.());
      s.on('auth-agent', (_ok, no) => no?.());
      s.on('x11', (_ok, no) => no?.());
    });
    conn.on('tcpip', (_ok, no) => no());
    conn.on('request', (_ok, no) => no?.());
  }

  private async end(reason: string): Promise<void> {
    this.conn?.end();
    this.upstream?.then((u) => u.close()).catch(() => {});
    this.upstream = null;
    const s = this.session;
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
