// Opening an authenticated connection to the upstream PostgreSQL server: TCP, optional TLS
// (SSLRequest), StartupMessage, SCRAM-SHA-256 / md5 / cleartext, then ParameterStatus and
// BackendKeyData until ReadyForQuery. The socket is handed back paused, with its reader.
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { checkServerIdentity, type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  BackendCode,
  type BackendKey,
  isProtocolError,
  MessageReader,
  MessageWriter,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorResponse,
  parseParameterStatus,
  writeCancelRequest,
  writePasswordMessage,
  writeSASLInitialResponse,
  writeSASLResponse,
  writeSSLRequest,
  writeStartupMessage,
  writeTerminate,
} from '../wire/index.js';
import { isUpstreamError, serverError, UpstreamError } from './errors.js';
import { md5PasswordResponse } from './md5.js';
import { SCRAM_SHA_256, ScramClient } from './scram.js';
import { SocketMessages } from './socket-messages.js';

export type UpstreamTlsMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export interface UpstreamOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /**
   * disable: plaintext. prefer (default): TLS if offered, unverified. require: TLS or fail; the
   * chain is verified only when `caCert` is given (libpq's verify-ca). verify-full: chain and host name.
   */
  tls?: UpstreamTlsMode;
  /** PEM CA certificate(s) for verifying the server. */
  caCert?: string | Buffer;
  /** Extra startup parameters (application_name, options, …). client_encoding defaults to UTF8. */
  params?: Record<string, string>;
  /** Whole handshake deadline; default 10 s. */
  connectTimeoutMs?: number;
  /** Reader limit for messages from the server; default 64 MiB. */
  maxMessageSize?: number;
}

export interface UpstreamConnection {
  /** Paused, with no 'data' listener: attach yours, then `resume()`. A no-op 'error' listener stays attached. */
  socket: Socket | TLSSocket;
  /** Positioned after ReadyForQuery; may hold bytes the server sent after it. */
  reader: MessageReader;
  /** ParameterStatus values from the handshake. */
  parameters: Map<string, string>;
  backendKey: BackendKey;
  serverVersion: string;
  tls: boolean;
}

const TLS_MODES: readonly UpstreamTlsMode[] = ['disable', 'prefer', 'require', 'verify-full'];
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const ignoreError = (): void => {};

function unavailable(opts: { host: string; port: number }, why: string, cause?: unknown): UpstreamError {
  return new UpstreamError('target-unavailable', `cannot reach PostgreSQL at ${opts.host}:${opts.port}: ${why}`, {
    cause,
  });
}

function openSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const onError = (err: Error) => reject(unavailable({ host, port }, err.message, err));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      socket.on('error', ignoreError);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 60_000);
      resolve(socket);
    });
  });
}

/** The one-byte answer to SSLRequest. More bytes before the TLS handshake would be injected plaintext. */
function readSslAnswer(socket: Socket): Promise<'S' | 'N'> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      cleanup();
      socket.pause();
      if (chunk.length !== 1 || (chunk[0] !== 0x53 && chunk[0] !== 0x4e)) {
        reject(new UpstreamError('protocol-error', 'unexpected answer to SSLRequest'));
        return;
      }
      resolve(chunk[0] === 0x53 ? 'S' : 'N');
    };
    const onClose = () => {
      cleanup();
      reject(new UpstreamError('target-unavailable', 'connection closed during SSL negotiation'));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}

function startTls(socket: Socket, opts: UpstreamOptions, mode: UpstreamTlsMode): Promise<TLSSocket> {
  const verifyChain = mode === 'verify-full' || (mode === 'require' && opts.caCert !== undefined);
  return new Promise((resolve, reject) => {
    const tlsSocket = tlsConnect({
      socket,
      ...(isIP(opts.host) ? {} : { servername: opts.host }),
      ...(opts.caCert !== undefined ? { ca: opts.caCert } : {}),
      rejectUnauthorized: verifyChain,
      checkServerIdentity:
        mode === 'verify-full' ? (_name, cert) => checkServerIdentity(opts.host, cert) : () => undefined,
    });
    tlsSocket.once('error', (err) =>
      reject(new UpstreamError('target-unavailable', `TLS: ${err.message}`, { cause: err })),
    );
    tlsSocket.once('secureConnect', () => {
      tlsSocket.on('error', ignoreError);
      resolve(tlsSocket);
    });
  });
}

async function handshake(opts: UpstreamOptions, track: (s: Socket) => void): Promise<UpstreamConnection> {
  const mode = opts.tls ?? 'prefer';
  let socket: Socket = await openSocket(opts.host, opts.port);
  track(socket);
  const w = new MessageWriter(1024);
  let tls = false;
  if (mode !== 'disable') {
    socket.write(writeSSLRequest(w).flush());
    if ((await readSslAnswer(socket)) === 'S') {
      socket = await startTls(socket, opts, mode);
      track(socket);
      tls = true;
    } else if (mode !== 'prefer') {
      throw new UpstreamError('tls-unavailable', `PostgreSQL at ${opts.host}:${opts.port} does not accept TLS`);
    }
  }

  const reader = new MessageReader(opts.maxMessageSize === undefined ? {} : { maxMessageSize: opts.maxMessageSize });
  const messages = new SocketMessages(socket, reader);
  try {
    socket.write(
      writeStartupMessage(w, {
        client_encoding: 'UTF8',
        ...opts.params,
        user: opts.user,
        database: opts.database,
      }).flush(),
    );
    const parameters = new Map<string, string>();
    let backendKey: BackendKey = { pid: 0, secret: 0 };
    let scram: ScramClient | undefined;
    for (;;) {
      const m = await messages.next();
      switch (m.code) {
        case BackendCode.Authentication: {
          const auth = parseAuthentication(m.buffer, m.start, m.length);
          switch (auth.type) {
            case 'ok':
              break;
            case 'cleartext-password':
              socket.write(writePasswordMessage(w, opts.password).flush());
              break;
            case 'md5-password':
              socket.write(writePasswordMessage(w, md5PasswordResponse(opts.user, opts.password, auth.salt)).flush());
              break;
            case 'sasl':
              if (!auth.mechanisms.includes(SCRAM_SHA_256)) {
                throw new UpstreamError(
                  'auth-unsupported',
                  `no supported SASL mechanism in ${auth.mechanisms.join(', ')}`,
                );
              }
              scram = new ScramClient();
              socket.write(writeSASLInitialResponse(w, SCRAM_SHA_256, scram.initialResponse()).flush());
              break;
            case 'sasl-continue':
              if (!scram) throw new UpstreamError('protocol-error', 'SASLContinue without SASL');
              socket.write(writeSASLResponse(w, await scram.respond(auth.data, opts.password)).flush());
              break;
            case 'sasl-final':
              if (!scram) throw new UpstreamError('protocol-error', 'SASLFinal without SASL');
              scram.verifyFinal(auth.data);
              break;
            default:
              throw new UpstreamError('auth-unsupported', `authentication method ${auth.subtype} is not supported`);
          }
          break;
        }
        case BackendCode.ParameterStatus: {
          const p = parseParameterStatus(m.buffer, m.start, m.length);
          parameters.set(p.name, p.value);
          break;
        }
        case BackendCode.BackendKeyData:
          backendKey = parseBackendKeyData(m.buffer, m.start, m.length);
          break;
        case BackendCode.ErrorResponse:
          throw serverError(parseErrorResponse(m.buffer, m.start, m.length));
        case BackendCode.NoticeResponse:
        case BackendCode.NegotiateProtocolVersion:
          break;
        case BackendCode.ReadyForQuery:
          messages.detach();
          return {
            socket,
            reader,
            parameters,
            backendKey,
            serverVersion: parameters.get('server_version') ?? '',
            tls,
          };
        default:
          throw new UpstreamError('protocol-error', `unexpected message 0x${m.code.toString(16)} during startup`);
      }
    }
  } catch (e) {
    messages.detach();
    throw e;
  }
}

/** Errors a caller can act on keep their code; anything else during the handshake means unreachable. */
function classify(e: unknown, opts: UpstreamOptions): UpstreamError {
  if (isUpstreamError(e)) return e.code === 'connection-closed' ? unavailable(opts, e.message, e) : e;
  if (isProtocolError(e)) return new UpstreamError('protocol-error', e.message, { cause: e });
  return unavailable(opts, e instanceof Error ? e.message : String(e), e);
}

export async function connectUpstream(opts: UpstreamOptions): Promise<UpstreamConnection> {
  if (opts.tls !== undefined && !TLS_MODES.includes(opts.tls)) throw new TypeError(`unknown tls mode ${opts.tls}`);
  if (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 65535) throw new TypeError('invalid port');
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  let socket: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(unavailable(opts, `timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([handshake(opts, (s) => (socket = s)), timeout]);
  } catch (e) {
    (socket as Socket | undefined)?.destroy();
    throw classify(e, opts);
  } finally {
    clearTimeout(timer);
  }
}

/** Ask the server to cancel the query running on backend `pid` (a fresh connection, as the protocol requires). */
export function sendCancel(
  host: string,
  port: number,
  pid: number,
  secret: number,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(unavailable({ host, port }, `cancel timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(unavailable({ host, port }, err.message, err));
    });
    socket.once('connect', () => {
      socket.end(writeCancelRequest(new MessageWriter(64), pid, secret).flush());
    });
    // The server closes the connection once it has read the request.
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.resume();
  });
}

/** Politely end an upstream connection (Terminate, then close). */
export function closeUpstream(conn: UpstreamConnection): void {
  if (conn.socket.destroyed) return;
  conn.socket.end(writeTerminate(new MessageWriter(16)).flush());
}
