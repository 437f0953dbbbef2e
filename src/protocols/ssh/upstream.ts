// The gateway's own SSH login to the target: the connection's key (or password), the target's
// host key checked against the configured fingerprint before anything is sent.
import { Client, type ClientChannel, type PseudoTtyOptions, type SFTPWrapper } from 'ssh2';
import type { z } from 'zod';
import type { sshConnectionSchema } from './connection.js';
import { fingerprint } from './host-key.js';

export type SshConnectionConfig = z.infer<typeof sshConnectionSchema>;

/** Why the upstream could not be used, in words for the client's stderr (no secrets). */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
}

const READY_TIMEOUT_MS = 10_000;

/** A command running on the target. Its exit and close are caught from the first moment: a fast
 * command's exit-status and close can arrive in the same read as the exec's confirmation. */
export interface RemoteCommand {
  channel: ClientChannel;
  exit: { code: number | null; signal?: string } | null;
  closed: Promise<void>;
}

export interface Upstream {
  exec(command: string, pty: PseudoTtyOptions | null): Promise<RemoteCommand>;
  shell(pty: PseudoTtyOptions): Promise<RemoteCommand>;
  sftp(): Promise<SFTPWrapper>;
  /** A TCP connection the target opens to host:port (direct-tcpip). */
  forward(info: { srcIP: string; srcPort: number; destIP: string; destPort: number }): Promise<ClientChannel>;
  close(): void;
  /** Resolves when the target connection ends (error or close). */
  readonly ended: Promise<void>;
}

export function connectUpstream(name: string, c: SshConnectionConfig): Promise<Upstream> {
  const client = new Client();
  let seen: string | undefined;
  let resolveEnded: () => void = () => {};
  const ended = new Promise<void>((r) => {
    resolveEnded = r;
  });
  return new Promise<Upstream>((resolve, reject) => {
    let ready = false;
    client.once('ready', () => {
      ready = true;
      resolve({
        exec: (command, pty) =>
          new Promise((res, rej) => {
            client.exec(command, pty ? { pty } : {}, (err, ch) => {
              if (err) return rej(new UpstreamError(`target '${name}' refused the command: ${err.message}`));
              res(watch(ch));
            });
          }),
        shell: (pty) =>
          new Promise((res, rej) => {
            client.shell(pty, (err, ch) =>
              err ? rej(new UpstreamError(`target '${name}' refused a shell: ${err.message}`)) : res(watch(ch)),
            );
          }),
        forward: (f) =>
          new Promise((res, rej) => {
            client.forwardOut(f.srcIP, f.srcPort, f.destIP, f.destPort, (err, ch) =>
              err
                ? rej(
                    new UpstreamError(
                      `target '${name}' could not connect to ${f.destIP}:${f.destPort}: ${err.message}`,
                    ),
                  )
                : res(ch),
            );
          }),
        sftp: () =>
          new Promise((res, rej) => {
            client.sftp((err, s) =>
              err ? rej(new UpstreamError(`target '${name}' refused SFTP: ${err.message}`)) : res(s),
            );
          }),
        close: () => client.end(),
        ended,
      });
    });
    client.on('error', (err) => {
      if (ready) return;
      if (seen !== undefined && seen !== c.hostKey)
        reject(
          new UpstreamError(
            `target '${name}' presented host key ${seen}, not the configured ${c.hostKey} (connections.${name}.hostKey): refusing`,
          ),
        );
      else reject(new UpstreamError(`target '${name}' is unavailable: ${err.message}`));
    });
    client.on('close', () => {
      resolveEnded();
      if (!ready) reject(new UpstreamError(`target '${name}' closed the connection`));
    });
    const auth = c.privateKey ? { privateKey: c.privateKey } : c.password ? { password: c.password } : {};
    try {
      client.connect({
        host: c.host ?? '127.0.0.1',
        port: c.port ?? 22,
        username: c.user ?? 'root',
        ...auth,
        readyTimeout: READY_TIMEOUT_MS,
        // A mismatch ends the handshake before any credential is sent.
        hostVerifier: (key: Buffer) => {
          seen = fingerprint(key);
          return seen === c.hostKey;
        },
      });
    } catch (err) {
      reject(new UpstreamError(`target '${name}' cannot be reached: ${(err as Error).message}`));
    }
  });
}

function watch(ch: ClientChannel): RemoteCommand {
  const run: RemoteCommand = {
    channel: ch,
    exit: null,
    closed: new Promise((done) => ch.once('close', () => done())),
  };
  ch.on('exit', (code: number | null, signal?: string) => {
    run.exit = signal ? { code, signal } : { code };
  });
  return run;
}
