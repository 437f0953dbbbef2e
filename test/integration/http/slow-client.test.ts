// Back-pressure: a client that reads slowly must slow the upstream down, not make the gateway
// buffer the body. The upstream streams a large body (masked JSON, and binary passed through)
// and counts what it could hand to its socket; a raw socket client stops reading. If the gateway
// pulled the body regardless, the upstream would never be stopped (the whole body would be
// produced); with back-pressure it stalls after the buffers on the way fill (socket buffers,
// stream high-water marks; about 8 MB here), far below the body's size, and resumes when the client reads.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type HttpGateway, startHttpGateway, startUpstream, type Upstream } from './support.js';

const BODY_BYTES = 512 * 1024 * 1024;
/** What may sit in buffers between a stalled upstream and a client that stopped reading. */
const BOUND = 64 * 1024 * 1024;

const POLICY = `
access:
  - groups: [agents]
    connections: [bulk]
masking:
  - connections: [bulk]
    columns: [email]
    detect: [email]
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP gateway: a slow client slows the upstream (bounded gateway memory)', () => {
  let up: Upstream;
  let gw: HttpGateway;
  let token: string;
  const produced = { json: 0, bin: 0 };

  before(async () => {
    up = await startUpstream((req, res) => {
      const kind = req.url === '/json' ? 'json' : 'bin';
      res.writeHead(200, { 'content-type': kind === 'json' ? 'application/json' : 'application/octet-stream' });
      const row = Buffer.from(`{"email":"ann@example.com","n":${'1'.repeat(200)}},`);
      const blob = Buffer.alloc(64 * 1024, 'b');
      const chunk = kind === 'json' ? Buffer.concat(Array.from({ length: 256 }, () => row)) : blob;
      if (kind === 'json') res.write('[');
      // Writes only while the socket takes them: what was produced is what the gateway let through.
      const pump = () => {
        while (produced[kind] < BODY_BYTES && !res.destroyed) {
          produced[kind] += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) res.end(kind === 'json' ? '{}]' : undefined);
      };
      res.on('error', () => {});
      pump();
    });
    gw = await startHttpGateway({
      connections: `  bulk:
    type: http
    url: ${up.url}
`,
      policy: POLICY,
    });
    token = await gw.token('slow-reader', ['agents']);
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
  });

  /** Waits until `value()` stops growing (3 samples 300 ms apart), or fails after `ms`. */
  async function stalled(value: () => number, ms = 60_000): Promise<number> {
    const deadline = Date.now() + ms;
    let last = -1;
    let same = 0;
    for (;;) {
      const v = value();
      same = v === last ? same + 1 : 0;
      last = v;
      if (same >= 3) return v;
      if (v >= BODY_BYTES) return v;
      if (Date.now() > deadline) return v;
      await sleep(300);
    }
  }

  for (const kind of ['json', 'bin'] as const) {
    it(`${kind === 'json' ? 'masked JSON' : 'a binary body'}: the upstream stalls while the client does not read, and resumes when it does`, async () => {
      const s: Socket = connect(gw.httpPort, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      let received = 0;
      let head = '';
      s.on('data', (d: Buffer) => {
        received += d.length;
        if (head.length < 200) head += d.toString('latin1', 0, Math.min(d.length, 200));
        s.pause();
      });
      s.write(`GET /bulk/${kind} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      const rssBefore = process.memoryUsage().rss;
      try {
        const atStall = await stalled(() => produced[kind]);
        assert.match(head, /^HTTP\/1\.1 200/);
        assert.ok(
          atStall < BOUND,
          `the upstream produced ${atStall} bytes for a client that read ${received}: the gateway buffered the body`,
        );
        const rssGrowth = process.memoryUsage().rss - rssBefore;
        assert.ok(rssGrowth < BOUND, `the test process grew by ${rssGrowth} bytes`);

        // The client reads a little: the upstream is let go on, by about as much.
        const readTo = received + 32 * 1024 * 1024;
        while (received < readTo) {
          s.resume();
          await sleep(5);
        }
        s.pause();
        const after = await stalled(() => produced[kind]);
        assert.ok(after > atStall, 'reading let the upstream go on');
        assert.ok(after - received < BOUND, `${after - received} bytes in flight after the client read`);
      } finally {
        s.destroy();
      }
    });
  }
});
