// The in-memory stream the SSH in-process door runs on (src/protocols/ssh/in-process.ts): bytes in
// order, never delivered inside the writer's own write() (ssh2's key exchange breaks on that, as
// with node's duplexPair), bounded buffering when the reader stalls, and end/destroy reaching the
// other side as a closed TCP peer would.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { duplexPair } from 'node:stream';
import { describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { deferredPair } from '../../../src/protocols/ssh/in-process.js';
import { generateEd25519KeyPair } from '../../../src/protocols/ssh/keygen.js';

describe('the SSH in-process stream pair', () => {
  it('delivers every byte in order, never inside the write() that sent it', async () => {
    const [a, b] = deferredPair();
    const sent = Array.from({ length: 200 }, (_, i) => randomBytes(1 + ((i * 997) % 70_000)));
    let writing = false;
    let reentered = false;
    const got: Buffer[] = [];
    b.on('data', (d: Buffer) => {
      if (writing) reentered = true;
      got.push(d);
    });
    const ended = new Promise((r) => b.once('end', r));
    for (const chunk of sent) {
      writing = true;
      a.write(chunk);
      writing = false;
    }
    a.end();
    await ended;
    assert.equal(reentered, false);
    assert.ok(Buffer.concat(got).equals(Buffer.concat(sent)));
  });

  it('holds a bounded amount while the reader stalls, then passes it all', async () => {
    const [a, b] = deferredPair();
    b.pause();
    const chunk = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    for (let more = true; more; ) {
      more = a.write(chunk);
      written += chunk.length;
    }
    // A writer that waits for 'drain' (as ssh2 does) is held while nobody reads.
    const drained = new Promise<boolean>((r) => a.once('drain', () => r(true)));
    const early = await Promise.race([drained, new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
    assert.equal(early, false, 'the writer was released while nobody read');
    const held = a.writableLength + b.readableLength;
    assert.ok(held <= 1024 * 1024, `held ${held} bytes for a stalled reader`);
    let read = 0;
    b.on('data', (d: Buffer) => {
      read += d.length;
    });
    const ended = new Promise((r) => b.once('end', r));
    b.resume();
    assert.equal(await drained, true);
    a.end();
    await ended;
    assert.equal(read, written);
  });

  it('the end or destruction of one side ends the other', async () => {
    const [a, b] = deferredPair();
    b.resume();
    const bClosed = new Promise((r) => b.once('close', r));
    a.destroy();
    await bClosed;
    assert.ok(b.destroyed);
    const [c, d] = deferredPair();
    c.resume();
    d.resume();
    const cClosed = new Promise((r) => c.once('close', r));
    d.end();
    await cClosed;
  });

  it('carries a real SSH handshake and exec, which node:stream duplexPair does not', async () => {
    const key = generateEd25519KeyPair('in-process pair test');
    const exec = (pair: [import('node:stream').Duplex, import('node:stream').Duplex]) =>
      new Promise<string>((resolve) => {
        const server = new ssh2.Server({ hostKeys: [key.private] }, (conn) => {
          conn.on('error', () => {});
          conn.on('authentication', (ctx) => ctx.accept());
          conn.on('ready', () =>
            conn.on('session', (accept) =>
              accept().on('exec', (ok, _no, info) => {
                const ch = ok();
                ch.end(`ran ${info.command}`);
              }),
            ),
          );
        });
        server.injectSocket(pair[1] as never);
        const client = new ssh2.Client();
        client.on('error', (e) => resolve(`error: ${e.message}`));
        client.on('ready', () =>
          client.exec('uname', (err, ch) => {
            if (err) return resolve(`error: ${err.message}`);
            let out = '';
            ch.on('data', (x: Buffer) => {
              out += x.toString();
            });
            ch.on('close', () => {
              client.end();
              resolve(out);
            });
          }),
        );
        client.connect({ sock: pair[0] as never, username: 'x', hostVerifier: () => true });
      });
    assert.equal(await exec(deferredPair()), 'ran uname');
    // Why the door has its own pair: the synchronous one fails ssh2's key exchange.
    assert.match(await exec(duplexPair({ allowHalfOpen: false })), /^error: /);
  });
});
