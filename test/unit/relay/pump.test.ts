// The protocol-neutral relay (src/protocols/relay) under a toy line protocol, over real in-memory
// streams: messages are handled one at a time in order; a message that must wait pauses its
// source and nothing after it is handled early; a hold waits without pausing until the read-ahead
// limit; a destination that asks to wait pauses the stream feeding it until 'drain'; a reader that
// refuses bytes, a handler that throws and a stopped pump each end handling.
import assert from 'node:assert/strict';
import { type Duplex, duplexPair } from 'node:stream';
import { describe, it } from 'node:test';
import { Flow, type FrameReader, Outbound, Pump } from '../../../src/protocols/relay/index.js';

/** Newline-framed messages; a 0xff byte is malformed. */
class LineReader implements FrameReader {
  private buf = '';
  line = '';
  push(chunk: Buffer): void {
    if (chunk.includes(0xff)) throw new Error('malformed byte');
    this.buf += chunk.toString('latin1');
  }
  next(): boolean {
    const i = this.buf.indexOf('\n');
    if (i < 0) return false;
    this.line = this.buf.slice(0, i);
    this.buf = this.buf.slice(i + 1);
    return true;
  }
  get pending(): number {
    return this.buf.length;
  }
}

/** Upper-cases each line to `out`; lines named in `waits` / `holds` wait on their promise. */
class UpperPump extends Pump<LineReader> {
  readonly seen: string[] = [];
  readonly errors: string[] = [];
  readonly waits = new Map<string, Promise<void>>();
  readonly holds = new Map<string, Promise<void>>();
  constructor(
    reader: LineReader,
    flow: Flow,
    private readonly out: Outbound,
    limit?: number,
  ) {
    super(reader, flow, limit);
  }
  protected handle(r: LineReader): Promise<void> | undefined {
    if (r.line === 'throw') throw new Error('handler failed');
    this.seen.push(r.line);
    this.out.push(Buffer.from(`${r.line.toUpperCase()}\n`));
    return this.waits.get(r.line);
  }
  protected override hold(): Promise<void> | undefined {
    const h = this.holds.get(this.reader.line);
    this.holds.delete(this.reader.line);
    return h;
  }
  protected flush(): void {
    this.out.flush();
  }
  protected malformed(err: unknown): void {
    this.errors.push(`malformed: ${(err as Error).message}`);
  }
  protected failed(err: unknown): void {
    this.errors.push(`failed: ${(err as Error).message}`);
  }
}

interface Rig {
  feed: Duplex;
  source: Duplex;
  received: () => string;
  pump: UpperPump;
  out: Outbound;
  reads: Duplex;
}

function rig(opts: { limit?: number; destHighWaterMark?: number; readDest?: boolean } = {}): Rig {
  const [source, feed] = duplexPair();
  // The reading end buffers little too, so an unread destination really fills up.
  const hwm = opts.destHighWaterMark ?? 16 * 1024;
  const [dest, reads] = duplexPair({ writableHighWaterMark: hwm, readableHighWaterMark: hwm });
  const flow = new Flow(source);
  const out = new Outbound(dest, flow);
  const pump = new UpperPump(new LineReader(), flow, out, opts.limit);
  let text = '';
  if (opts.readDest !== false) reads.on('data', (c: Buffer) => (text += c.toString('latin1')));
  pump.attach();
  return { feed, source, received: () => text, pump, out, reads };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('relay pump', () => {
  it('handles messages in order, one at a time; a waiting message pauses its source', async () => {
    const r = rig();
    const gate = deferred();
    r.pump.waits.set('wait', gate.promise);
    r.feed.write('a\nwait\nb\nc\n');
    await tick();
    assert.deepEqual(r.pump.seen, ['a', 'wait']);
    assert.equal(r.source.isPaused(), true);
    // What was produced before the wait went out before waiting.
    assert.equal(r.received(), 'A\nWAIT\n');
    gate.resolve();
    await tick();
    assert.deepEqual(r.pump.seen, ['a', 'wait', 'b', 'c']);
    assert.equal(r.source.isPaused(), false);
    assert.equal(r.received(), 'A\nWAIT\nB\nC\n');
  });

  it('a hold waits without pausing the source until the read-ahead limit, and keeps order', async () => {
    const r = rig({ limit: 64 });
    const held = deferred();
    r.pump.holds.set('held', held.promise);
    r.feed.write('a\nheld\nb\n');
    await tick();
    assert.deepEqual(r.pump.seen, ['a']);
    assert.equal(r.source.isPaused(), false);
    r.feed.write(`${'x'.repeat(100)}\n`);
    await tick();
    assert.equal(r.source.isPaused(), true, 'past the read-ahead limit');
    assert.deepEqual(r.pump.seen, ['a']);
    held.resolve();
    await tick();
    assert.deepEqual(r.pump.seen, ['a', 'held', 'b', 'x'.repeat(100)]);
    assert.equal(r.source.isPaused(), false);
  });

  it('a destination that asks to wait pauses the feeding stream until drain', async () => {
    const r = rig({ destHighWaterMark: 8, readDest: false });
    r.feed.write('first-long-line\n');
    await tick();
    assert.deepEqual(r.pump.seen, ['first-long-line']);
    assert.equal(r.source.isPaused(), true, 'write returned false');
    let text = '';
    r.reads.on('data', (c: Buffer) => (text += c.toString('latin1')));
    await tick();
    assert.equal(text, 'FIRST-LONG-LINE\n');
    assert.equal(r.source.isPaused(), false, 'resumed on drain');
  });

  it('coalesces what one turn produced into one write', async () => {
    const r = rig();
    let chunks = 0;
    r.reads.on('data', () => chunks++);
    r.feed.write('a\nb\nc\nd\n');
    await tick();
    assert.equal(r.received(), 'A\nB\nC\nD\n');
    assert.equal(chunks, 1);
  });

  it('a reader that refuses bytes, or a handler that throws, ends handling through its hook', async () => {
    const bad = rig();
    bad.feed.write(Buffer.from([0x61, 0xff, 0x0a]));
    await tick();
    assert.deepEqual(bad.pump.errors, ['malformed: malformed byte']);
    assert.deepEqual(bad.pump.seen, []);

    const failing = rig();
    failing.feed.write('a\nthrow\nb\n');
    await tick();
    assert.deepEqual(failing.pump.errors, ['failed: handler failed']);
    assert.deepEqual(failing.pump.seen, ['a']);
  });

  it('a rejected wait is a failure, and nothing after it is handled', async () => {
    const r = rig();
    r.pump.waits.set('wait', Promise.reject(new Error('lookup failed')));
    r.feed.write('wait\nafter\n');
    await tick();
    assert.deepEqual(r.pump.seen, ['wait']);
    assert.deepEqual(r.pump.errors, ['failed: lookup failed']);
  });

  it('after stop, nothing more is handled or sent', async () => {
    const r = rig();
    const gate = deferred();
    r.pump.waits.set('wait', gate.promise);
    r.feed.write('wait\nafter\n');
    await tick();
    r.pump.stop();
    r.out.close();
    gate.resolve();
    await tick();
    r.feed.write('later\n');
    await tick();
    assert.deepEqual(r.pump.seen, ['wait']);
    assert.equal(r.received(), 'WAIT\n');
  });
});
