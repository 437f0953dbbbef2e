// `warden connect CONNECTION`: a loopback listener that adds the identity token, so unmodified
// PostgreSQL clients (`psql -h 127.0.0.1 -p 5433 shop`) reach the gateway without handling tokens.
// Per client: answer SSLRequest with 'N' (loopback), read the StartupMessage, open the gateway's
// PostgreSQL front door (TLS unless it is on loopback), send the StartupMessage with
// database = CONNECTION, answer the gateway's cleartext password request with the token, then
// relay bytes both ways. CancelRequest packets are passed on, so Ctrl-C in psql works.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Command } from 'commander';
import { parse } from 'yaml';
import {
  AuthCode,
  BackendCode,
  MessageReader,
  MessageWriter,
  parseStartupPacket,
  StartupCode,
  writeErrorResponse,
  writePasswordMessage,
  writeSSLRequest,
  writeStartupMessage,
} from '../../protocols/postgres/wire/index.js';
import { ApiClient } from '../client.js';
import { CliExit } from '../exit.js';
import { withConfig } from '../options.js';
import { waitForSignal } from './start.js';

export const DEFAULT_GATEWAY_PG = '127.0.0.1:15432';

export interface TokenProxyOptions {
  /** Connection name sent to the gateway as the database. */
  connection: string;
  token: string;
  gatewayHost: string;
  gatewayPort: number;
  /** PEM CA for a gateway that is not on loopback (TLS is then required). */
  gatewayCa?: string;
  /** Loopback port to listen on; 0 picks a free one. */
  port: number;
  host?: '127.0.0.1' | '::1';
}

export interface TokenProxy {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startTokenProxy(opts: TokenProxyOptions): Promise<TokenProxy> {
  if (!opts.token) throw new TypeError('startTokenProxy: token is required');
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    serveClient(client, opts, sockets);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: opts.port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    host,
    port: (server.address() as { port: number }).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function serveClient(client: Socket, opts: TokenProxyOptions, sockets: Set<Socket>): void {
  const reader = new MessageReader({ startup: true });
  client.setNoDelay(true);
  client.on('error', () => {});
  const refuse = (code: string, message: string) => {
    client.end(writeErrorResponse(new MessageWriter(256), { severity: 'FATAL', code, message }).flush());
  };
  const onData = (chunk: Buffer) => {
    try {
      reader.push(chunk);
      while (reader.next()) {
        const packet = parseStartupPacket(reader.buffer, reader.start, reader.length);
        if (packet.kind === 'ssl-request' || packet.kind === 'gssenc-request') {
          client.write('N'); // loopback: no TLS between the client and this listener
          continue;
        }
        client.off('data', onData);
        if (packet.kind === 'cancel') {
          const cancel = Buffer.from(reader.frame());
          void openGateway(opts).then(
            (gw) => gw.end(cancel),
            () => {},
          );
          client.end();
          return;
        }
        const params: Record<string, string> = { ...packet.params, database: opts.connection };
        params.user ??= 'agent';
        void relay(client, params, reader.takeRemaining(), opts, sockets).catch((err: Error) => {
          refuse('08006', `warden connect: ${err.message}`);
        });
        return;
      }
    } catch {
      refuse('08P01', 'invalid startup packet');
    }
  };
  client.on('data', onData);
}

/** Open the gateway, authenticate with the token, then pipe both ways. */
async function relay(
  client: Socket,
  params: Record<string, string>,
  early: Buffer,
  opts: TokenProxyOptions,
  sockets: Set<Socket>,
): Promise<void> {
  client.pause();
  const held = Buffer.from(early); // anything the client sent after its StartupMessage
  const gw = await openGateway(opts);
  sockets.add(gw);
  gw.once('close', () => {
    sockets.delete(gw);
    client.end();
  });
  client.once('close', () => gw.destroy());
  if (client.destroyed) {
    gw.destroy();
    return;
  }
  const w = new MessageWriter();
  gw.write(writeStartupMessage(w, params, StartupCode.ProtocolV3).flush());
  const reader = new MessageReader();
  const onData = (chunk: Buffer) => {
    try {
      reader.push(chunk);
      while (reader.next()) {
        if (reader.code === BackendCode.Authentication && reader.length >= 4) {
          const subtype = reader.buffer.readInt32BE(reader.start);
          if (subtype === AuthCode.CleartextPassword) {
            gw.write(writePasswordMessage(w, opts.token).flush());
            continue;
          }
          if (subtype !== AuthCode.Ok) {
            client.end(
              writeErrorResponse(w, {
                severity: 'FATAL',
                code: '28000',
                message: 'warden connect: the gateway asked for an unsupported authentication method',
              }).flush(),
            );
            gw.destroy();
            return;
          }
        }
        // AuthenticationOk or an error: from here on, bytes flow unchanged both ways.
        gw.off('data', onData);
        client.write(Buffer.from(reader.frame()));
        const rest = reader.takeRemaining();
        if (rest.length > 0) client.write(Buffer.from(rest));
        gw.pipe(client);
        if (held.length > 0) gw.write(held);
        client.pipe(gw);
        client.resume();
        return;
      }
    } catch {
      client.end(
        writeErrorResponse(w, {
          severity: 'FATAL',
          code: '08P01',
          message: 'warden connect: bad message from the gateway',
        }).flush(),
      );
      gw.destroy();
    }
  };
  gw.on('data', onData);
}

/** A socket to the gateway's PostgreSQL front door, inside TLS unless the gateway is on loopback. */
function openGateway(opts: TokenProxyOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host: opts.gatewayHost, port: opts.gatewayPort });
    raw.setNoDelay(true);
    const fail = (err: Error) => {
      raw.destroy();
      reject(
        new Error(
          `cannot reach the gateway at ${opts.gatewayHost}:${opts.gatewayPort} (${(err as NodeJS.ErrnoException).code ?? err.message})`,
        ),
      );
    };
    raw.once('error', fail);
    raw.once('connect', () => {
      if (isLoopbackHost(opts.gatewayHost)) {
        raw.off('error', fail);
        raw.on('error', () => {});
        resolve(raw);
        return;
      }
      raw.write(writeSSLRequest(new MessageWriter(16)).flush());
      raw.once('data', (answer: Buffer) => {
        if (answer[0] !== 0x53 /* S */) {
          fail(new Error('the gateway does not offer TLS'));
          return;
        }
        const tls = tlsConnect({
          socket: raw,
          servername: opts.gatewayHost,
          ...(opts.gatewayCa ? { ca: opts.gatewayCa } : {}),
        });
        tls.once('error', fail);
        tls.once('secureConnect', () => {
          tls.off('error', fail);
          raw.off('error', fail);
          tls.on('error', () => {});
          resolve(tls);
        });
      });
    });
  });
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** host:port of the gateway's PostgreSQL door: the flag, else the config's listen.postgres, else the default. */
export function resolveGatewayPg(explicit: string | undefined, configFile: string): { host: string; port: number } {
  let address = explicit;
  if (!address && existsSync(configFile)) {
    try {
      const doc = parse(readFileSync(configFile, 'utf8')) as { listen?: { postgres?: string } } | null;
      address = doc?.listen?.postgres;
    } catch {
      // an unreadable config falls back to the default
    }
  }
  address ??= DEFAULT_GATEWAY_PG;
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) > 65535)
    throw new CliExit(2, `warden connect: --gateway-pg: expected HOST:PORT, got ${address}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export function registerConnect(program: Command): void {
  withConfig(
    program
      .command('connect')
      .description('local listener that adds your token, so unmodified clients (psql) connect without handling tokens')
      .argument('<connection>', 'connection name (the database name clients use is ignored)')
      .option('--port <port>', 'local port on 127.0.0.1', '5433')
      .option(
        '--gateway-pg <host:port>',
        `the gateway's PostgreSQL front door (default: listen.postgres of the config, else ${DEFAULT_GATEWAY_PG})`,
      )
      .option('--gateway-ca <file>', 'CA certificate (PEM) for a gateway that is not on loopback')
      .option('--token <token>', 'identity token (env WARDEN_TOKEN; else the warden login sign-in)'),
  ).action(
    async (
      connection: string,
      opts: { config: string; port: string; gatewayPg?: string; gatewayCa?: string; token?: string },
    ) => {
      // --token, WARDEN_TOKEN, else the `warden login` sign-in (refreshed when it has expired).
      const token = await ApiClient.from({ ...(opts.token ? { token: opts.token } : {}) }).currentToken();
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port > 65535)
        throw new CliExit(2, `warden connect: --port: not a port: ${opts.port}`);
      const gateway = resolveGatewayPg(opts.gatewayPg, opts.config);
      let proxy: TokenProxy;
      try {
        proxy = await startTokenProxy({
          connection,
          token,
          gatewayHost: gateway.host,
          gatewayPort: gateway.port,
          port,
          ...(opts.gatewayCa ? { gatewayCa: readFileSync(opts.gatewayCa, 'utf8') } : {}),
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE')
          throw new CliExit(
            2,
            `warden connect: port 127.0.0.1:${port} is already in use; choose another with --port N`,
          );
        throw err;
      }
      process.stderr.write(
        `warden connect: 127.0.0.1:${proxy.port} → gateway ${gateway.host}:${gateway.port}, connection ${connection}; Ctrl-C to stop\n`,
      );
      process.stdout.write(`psql -h 127.0.0.1 -p ${proxy.port} ${connection}\n`);
      await waitForSignal();
      await proxy.close();
    },
  );
}
