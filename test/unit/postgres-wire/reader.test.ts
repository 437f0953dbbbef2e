import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isProtocolError,
  MessageReader,
  MessageWriter,
  StartupCode,
  writeCancelRequest,
  writeSSLRequest,
  writeStartupMessage,
} from '../../../src/protocols/postgres/wire/index.js';
import { backendStream, decodeBackend, decodeFrontend, decodeStartup, feed, frontendStream } from './stream.js';

function splits(stream: Buffer, decode: Parameters<typeof feed>[1], startup = false) {
  const whole = feed([stream], decode, startup);
  for (let i = 0; i <= stream.length; i++) {
    const got = feed([stream.subarray(0, i), stream.subarray(i)], decode, startup);
    assert.deepEqual(got, whole, `split at ${i}`);
  }
  // Three pieces, every pair of cut points (stream is small enough).
  for (let i = 1; i < stream.length; i += 3) {
    for (let j = i; j < stream.length; j += 5) {
      const got = feed([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)], decode, startup);
      assert.deepEqual(got, whole, `split at ${i},${j}`);
    }
  }
  const bytes: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
  assert.deepEqual(feed(bytes, decode, startup), whole, 'byte by byte');
  return whole;
}

describe('MessageReader framing', () => {
  it('parses a backend stream identically when cut at every byte offset', () => {
    const whole = splits(backendStream(), decodeBackend);
    assert.equal(whole.length, 19);
    assert.deepEqual(whole[6], [
      Buffer.from('1').toString('hex'),
      Buffer.from('ann@example.com').toString('hex'),
      null,
    ]);
    assert.deepEqual(whole[17], { unknown: 0x7e, payload: Buffer.from('mystery').toString('hex') });
  });

  it('parses a frontend stream identically when cut at every byte offset', () => {
    const whole = splits(frontendStream(), decodeFrontend);
    assert.equal(whole.length, 14);
    assert.deepEqual(whole[1], { query: "select 'ü'" });
    assert.deepEqual(whole[12], { code: 0x21, payload: Buffer.from('unknown').toString('hex') });
  });

  it('parses startup-phase packets (SSLRequest, StartupMessage, CancelRequest) at every offset', () => {
    const w = new MessageWriter();
    writeSSLRequest(w);
    writeStartupMessage(w, { user: 'alice', database: 'shop', application_name: 'psql' });
    writeCancelRequest(w, 99, -7);
    const whole = splits(Buffer.from(w.flush()), decodeStartup, true);
    assert.deepEqual(whole, [
      { kind: 'ssl-request', code: StartupCode.SSLRequest },
      {
        kind: 'startup',
        protocolVersion: 196608,
        params: { user: 'alice', database: 'shop', application_name: 'psql' },
        code: 196608,
      },
      { kind: 'cancel', pid: 99, secret: -7, code: StartupCode.CancelRequest },
    ]);
  });

  it('rejects an oversized frame from its header, before the body arrives', () => {
    const reader = new MessageReader({ maxMessageSize: 1000 });
    const header = Buffer.from([0x44, 0, 0, 0x03, 0xf0]); // length 1008 → payload 1004
    reader.push(header);
    assert.throws(
      () => reader.next(),
      (e) => isProtocolError(e, 'frame-too-large'),
    );
    // The reader stays failed.
    assert.throws(
      () => reader.next(),
      (e) => isProtocolError(e, 'frame-too-large'),
    );
    const ok = new MessageReader({ maxMessageSize: 1004 });
    ok.push(header);
    assert.equal(ok.next(), false);
  });

  it('applies the default 64 MiB limit', () => {
    const reader = new MessageReader();
    const header = Buffer.alloc(5);
    header[0] = 0x44;
    header.writeInt32BE(64 * 1024 * 1024 + 5, 1);
    reader.push(header);
    assert.throws(
      () => reader.next(),
      (e) => isProtocolError(e, 'frame-too-large'),
    );
  });

  it('rejects lengths below the header size and negative lengths', () => {
    for (const len of [0, 3, -1, -2147483648]) {
      const reader = new MessageReader();
      const b = Buffer.alloc(9);
      b[0] = 0x51;
      b.writeInt32BE(len, 1);
      reader.push(b);
      assert.throws(
        () => reader.next(),
        (e) => isProtocolError(e, 'bad-length'),
        `length ${len}`,
      );
    }
    const zeroPayload = new MessageReader();
    zeroPayload.push(Buffer.from([0x53, 0, 0, 0, 4]));
    assert.equal(zeroPayload.next(), true);
    assert.equal(zeroPayload.length, 0);
  });

  it('limits startup packets to 10 KiB and at least 8 bytes', () => {
    const big = new MessageReader({ startup: true });
    const b = Buffer.alloc(4);
    b.writeInt32BE(10 * 1024 + 1, 0);
    big.push(b);
    assert.throws(
      () => big.next(),
      (e) => isProtocolError(e, 'frame-too-large'),
    );
    const small = new MessageReader({ startup: true });
    small.push(Buffer.from([0, 0, 0, 7, 0, 0, 0]));
    assert.throws(
      () => small.next(),
      (e) => isProtocolError(e, 'bad-length'),
    );
  });

  it('never overwrites bytes it exposed: frames stay intact across later pushes', () => {
    const stream = backendStream();
    const reader = new MessageReader();
    const frames: Buffer[] = [];
    const copies: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 7) {
      reader.push(stream.subarray(i, i + 7));
      while (reader.next()) {
        frames.push(reader.frame());
        copies.push(Buffer.from(reader.frame()));
      }
    }
    assert.equal(frames.length, 19);
    assert.deepEqual(frames, copies);
    assert.deepEqual(Buffer.concat(frames), stream);
  });

  it('reads from the pushed chunk itself when no partial frame is pending (zero copy)', () => {
    const stream = backendStream();
    const reader = new MessageReader();
    reader.push(stream);
    assert.equal(reader.next(), true);
    assert.equal(reader.buffer, stream);
  });

  it('hands back leftover bytes with takeRemaining and can switch out of startup phase', () => {
    const w = new MessageWriter();
    writeStartupMessage(w, { user: 'u' });
    w.begin(0x51).cstring('select 1').end();
    const reader = new MessageReader({ startup: true });
    reader.push(Buffer.from(w.flush()));
    assert.equal(reader.next(), true);
    assert.equal(reader.code, StartupCode.ProtocolV3);
    reader.startup = false;
    const rest = reader.takeRemaining();
    assert.equal(reader.pending, 0);
    assert.equal(rest[0], 0x51);
    const other = new MessageReader();
    other.push(rest);
    assert.equal(other.next(), true);
    assert.equal(other.buffer.toString('utf8', other.start, other.start + other.length - 1), 'select 1');
  });

  it('holds no buffer once every message was handled, and keeps handed-out frames intact', () => {
    const reader = new MessageReader();
    const header = Buffer.alloc(5);
    header[0] = 0x51;
    header.writeInt32BE(4 + 100_000, 1);
    const big = Buffer.concat([header, Buffer.alloc(100_000, 0x61)]);
    // Split, so the reader copies the partial frame into a buffer of its own.
    reader.push(big.subarray(0, 1000));
    reader.push(big.subarray(1000));
    assert.equal(reader.next(), true);
    const frame = reader.frame();
    assert.equal(reader.next(), false);
    assert.equal(reader.buffer.length, 0);
    assert.equal(reader.pending, 0);
    assert.deepEqual(frame, big);
    // Reading goes on as before.
    reader.push(big);
    assert.equal(reader.next(), true);
    assert.equal(reader.length, 100_000);
  });

  it('drain visits every complete message and keeps the partial one', () => {
    const stream = frontendStream();
    const reader = new MessageReader();
    reader.push(stream.subarray(0, stream.length - 2));
    const codes: number[] = [];
    reader.drain((m) => codes.push(m.code));
    assert.equal(codes.length, 13);
    assert.equal(reader.pending, 3);
    reader.push(stream.subarray(stream.length - 2));
    reader.drain((m) => codes.push(m.code));
    assert.equal(codes.at(-1), 0x58);
  });
});
