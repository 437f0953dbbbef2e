// WebSocket upgrades (RFC 6455) on the HTTP front door (DESIGN §8, HTTP). Off unless the
// connection says `websocket: true`. When on, the upgrade is decided once, as the `http`
// operation it is (GET, its path, query and headers, `upgrade: websocket` among them), then the
// two sockets are relayed as bytes: messages are not inspected, so
//  - an identity whose responses on the connection are masked cannot open one (its messages
//    could not be masked): refused with 403 before and after the decision;
//  - the identity is checked again on every chunk and every second while the relay runs, so an
//    expired or revoked token cuts the relay;
//  - the recording holds the upgrade and the byte counts each way, not the messages.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { hopHeaders } from './upstream.js';

/** How often an idle relay re-checks its identity. */
const IDENTITY_CHECK_MS = 1000;

/** The request asks to become a WebSocket (any other Upgrade is refused). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').trim().toLowerCase() === 'websocket';
}

/** The 101 head for the client: the upstream's answer, its hop-by-hop headers but the upgrade's own dropped. */
export function switchingProtocols(headers: Record<string, string | string[] | undefined>): Buffer {
  const hop = hopHeaders(headers.connection);
  let head = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n';
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || hop.has(k) || k === 'content-length') continue;
    for (const value of Array.isArray(v) ? v : [v]) {
      // Header values from the upstream go to the client verbatim: no line breaks smuggled in.
      if (/[\r\n]/.test(value)) continue;
      head += `${k}: ${value}\r\n`;
    }
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}

export interface RelayEnd {
  toClient: number;
  toTarget: number;
  /** Why the relay ended, when it was cut (an identity problem, an error); null for a close. */
  cut: string | null;
}

/**
 * Relay bytes both ways until either side closes; `identityProblem` is asked on every chunk and
 * every second, and a non-null answer cuts both sockets. Back-pressure both ways (pipe).
 */
export function relay(
  client: Duplex,
  clientHead: Buffer,
  target: Duplex,
  targetHead: Buffer,
  identityProblem: () => string | null,
): Promise<RelayEnd> {
  return new Promise((resolve) => {
    const end: RelayEnd = { toClient: 0, toTarget: 0, cut: null };
    let done = false;
    let lingering: NodeJS.Timeout | undefined;
    const finish = (cut: string | null) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(lingering);
      end.cut = cut;
      client.destroy();
      target.destroy();
      resolve(end);
    };
    const check = () => {
      const problem = identityProblem();
      if (problem) finish(problem);
    };
    const timer = setInterval(check, IDENTITY_CHECK_MS);
    timer.unref();
    client.on('data', (chunk: Buffer) => {
      end.toTarget += chunk.length;
      check();
    });
    target.on('data', (chunk: Buffer) => {
      end.toClient += chunk.length;
      check();
    });
    for (const [s, other] of [
      [client, target],
      [target, client],
    ] as const) {
      s.on('error', (err: Error) => finish(err.message));
      // One side gone: the other gets what is in flight (pipe ends it), then both are closed.
      s.on('close', () => {
        if (other.destroyed) finish(null);
        else {
          other.end();
          lingering ??= setTimeout(() => finish(null), 5000);
          other.once('close', () => finish(null));
        }
      });
    }
    if (targetHead.length > 0) {
      end.toClient += targetHead.length;
      client.write(targetHead);
    }
    if (clientHead.length > 0) {
      end.toTarget += clientHead.length;
      target.write(clientHead);
    }
    client.pipe(target);
    target.pipe(client);
  });
}
