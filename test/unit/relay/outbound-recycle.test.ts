// Outbound reuses its slab once the socket has written everything it was given, and only then:
// through a real loopback socket, a reader that keeps up gets one slab reused for thousands of
// replies, and a reader that stops (the kernel's buffer fills, writes queue) gets every byte
// intact — a queued write's views are never written over. The same over TLS (as with psql's
// sslmode=require), whose writes complete asynchronously: the slab is reused at a later turn.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Duplex, PassThrough } from 'node:stream';
import { test } from 'node:test';
import { connect as tlsConnect, createServer as tlsCreateServer } from 'node:tls';
import { Flow } from '../../../src/protocols/relay/flow.js';
import { Outbound } from '../../../src/protocols/relay/outbound.js';
import { makeTestCa } from '../../helpers/test-ca.js';

const frame = (i: number, size: number) => {
  const b = Buffer.alloc(size, i % 251);
  b.writeUInt32BE(i, 0);
  return b;
};

interface Pair {
  writer: Duplex;
  reader: Duplex;
  close(): void;
}

/**
 * A connected pair on loopback: the server's side writes (as the gateway writes to its client),
 * the client's side reads. Both ends are awaited at once: either event may come first.
 */
async function socketPair(
  server: Server,
  connectClient: (port: number) => Duplex,
  serverEvent: string,
  clientEvent: string,
): Promise<Pair> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const reader = connectClient((server.address() as { port: number }).port);
  const [[writer]] = (await Promise.all([once(server, serverEvent), once(reader, clientEvent)])) as [[Duplex], unknown];
  return {
    writer,
    reader,
    close: () => {
      writer.destroy();
      reader.destroy();
      server.close();
    },
  };
}

const tcpPair = () => socketPair(createServer(), (port) => connect(port, '127.0.0.1'), 'connection', 'connect');

/** TLS as with a psql with sslmode=require, the certificate made by the test CA. */
function tlsPair(): Promise<Pair> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tls-'));
  let pem: ReturnType<typeof makeTestCa>;
  try {
    pem = makeTestCa(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return socketPair(
    tlsCreateServer({ key: pem.key, cert: pem.cert }),
    (port) => tlsConnect({ port, host: '127.0.0.1', ca: pem.ca }),
    'secureConnection',
    'secureConnect',
  );
}

for (const [transport, open] of [
  ['tcp', tcpPair],
  ['tls', tlsPair],
] as const) {
  test(`outbound (${transport}): a reader that keeps up is served from one reused slab`, async (t) => {
    const { writer, reader, close } = await open();
    t.after(close);
    // The stream feeding this outbound (paused on backpressure): not under test here.
    const feeder = new Flow(new PassThrough());
    const out = new Outbound(writer, feeder);
    const received: Buffer[] = [];
    reader.on('data', (c: Buffer) => received.push(c));
    const expected: Buffer[] = [];
    const slabs = new Set<ArrayBufferLike>();
    for (let i = 0; i < 3000; i++) {
      const f = frame(i, 100);
      expected.push(f);
      out.push(f);
      out.flush();
      slabs.add(out.buf.buffer);
      // A turn of the event loop now and then, as between a session's statements.
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    const want = Buffer.concat(expected);
    while (received.reduce((n, c) => n + c.length, 0) < want.length) await once(reader, 'data');
    assert.ok(Buffer.concat(received).equals(want), 'bytes as sent');
    // 300 KB of replies; without reuse that is a new slab every 4–64 KB.
    assert.ok(slabs.size <= 3, `slabs used: ${slabs.size}`);
  });

  test(`outbound (${transport}): a reader that stops gets every byte intact; queued views are not reused`, async (t) => {
    const { writer, reader, close } = await open();
    t.after(close);
    reader.pause();
    // The stream feeding this outbound (paused on backpressure): not under test here.
    const feeder = new Flow(new PassThrough());
    const out = new Outbound(writer, feeder);
    const expected: Buffer[] = [];
    // Frames of 4–8 KB until the kernel's buffers are full and writes queue in the stream.
    let i = 0;
    while (writer.writableLength < 4 * 1024 * 1024) {
      const f = frame(i, 4096 + ((i * 997) % 4096));
      expected.push(f);
      out.push(f);
      out.flush();
      i++;
    }
    // More after the queue formed: these must not overwrite what the queued writes point at.
    for (let k = 0; k < 200; k++, i++) {
      const f = frame(i, 512);
      expected.push(f);
      out.push(f);
      out.flush();
    }
    const want = Buffer.concat(expected);
    const received: Buffer[] = [];
    let got = 0;
    reader.on('data', (c: Buffer) => {
      received.push(c);
      got += c.length;
    });
    reader.resume();
    while (got < want.length) await once(reader, 'data');
    assert.equal(got, want.length);
    assert.ok(Buffer.concat(received).equals(want), 'bytes as sent');
  });
}
