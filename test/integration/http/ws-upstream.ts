// A minimal RFC 6455 echo server for the upstream side of the WebSocket tests (the `ws` package
// is not a dependency): the handshake, then text frames from the client (masked, any length)
// answered with `echo: <text>`, a greeting pushed first, and close frames answered and closed.
// The client side is a real client: undici's WebSocket.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WsUpgradeSeen {
  url: string;
  headers: IncomingMessage['headers'];
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(len)]);
  return Buffer.concat([head, payload]);
}

function bigLength(len: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(len));
  return b;
}

/** An `upgrade` listener for startUpstream: records each upgrade in `seen`, then echoes. */
export function wsEcho(seen: WsUpgradeSeen[]) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const key = req.headers['sec-websocket-key'];
    if (
      typeof key !== 'string' ||
      (req.headers.upgrade ?? '').toLowerCase() !== 'websocket' ||
      req.url?.endsWith('/refuse')
    ) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(key + GUID)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Upstream: ws-echo\r\n\r\n`,
    );
    socket.write(frame(0x1, Buffer.from('hello from upstream')));
    let buf = head;
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0]! & 0x0f;
        const masked = (buf[1]! & 0x80) !== 0;
        let len = buf[1]! & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          at = 10;
        }
        const maskAt = at;
        if (masked) at += 4;
        if (buf.length < at + len) return;
        const payload = Buffer.from(buf.subarray(at, at + len));
        if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskAt + (i % 4)]!;
        buf = buf.subarray(at + len);
        if (opcode === 0x1) socket.write(frame(0x1, Buffer.from(`echo: ${payload.toString('utf8')}`)));
        else if (opcode === 0x9) socket.write(frame(0xa, payload));
        else if (opcode === 0x8) {
          socket.end(frame(0x8, payload.subarray(0, 2)));
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    // The http server's sockets allow half-open: a client gone is a socket to close.
    socket.on('end', () => socket.end());
    if (head.length > 0) onData(Buffer.alloc(0));
  };
}
