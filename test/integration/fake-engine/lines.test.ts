// Adding an adapter needs its folder and one registry line: a fake "lines" engine registered
// here is served by the shared listener (accept limits, shutdown), opens sessions through the
// EngineHost, and gets decisions, masking, recording and audit from the core unchanged.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analysisReady } from '../../../src/analysis/index.js';
import { parseConfig } from '../../../src/config/index.js';
import { createLogger } from '../../../src/gateway/index.js';
import { registerProtocol } from '../../../src/protocols/index.js';
import { type RunningGateway, startGateway } from '../../../src/server/index.js';
import { linesConnectionSchema, linesEngine } from './lines-engine.js';

// The registry line, with an analysis hook the tests count and can make fail.
const analysis = { loads: 0, failNext: false };
registerProtocol({
  name: 'lines',
  listen: 'lines',
  connection: linesConnectionSchema,
  engine: async () => linesEngine,
  analysis: async () => {
    analysis.loads++;
    if (analysis.failNext) {
      analysis.failNext = false;
      throw new Error('analysis module missing');
    }
  },
});

/** A client of the line protocol: send a line, read one line back. */
async function linesClient(port: number) {
  const s = netConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  let buffered = '';
  const waiting: ((line: string) => void)[] = [];
  s.on('data', (d) => {
    buffered += d;
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      waiting.shift()?.(line);
    }
  });
  return {
    send: (line: string) =>
      new Promise<string>((resolve) => {
        waiting.push(resolve);
        s.write(`${line}\n`);
      }),
    close: () => s.destroy(),
  };
}

describe('a fake engine registered by a test', () => {
  let target: Server;
  let running: RunningGateway;
  let dir: string;

  before(async () => {
    // The "target": answers every line with a line quoting a customer's email.
    target = createServer((s) => s.on('data', (d) => s.end(`ran ${String(d).trim()} for ada@example.com\n`))).listen(
      0,
      '127.0.0.1',
    );
    await new Promise((r) => target.once('listening', r));
    const targetPort = (target.address() as { port: number }).port;
    dir = await mkdtemp(join(tmpdir(), 'warden-lines-'));
    const { config } = parseConfig(
      `
listen: { api: 127.0.0.1:0, lines: 127.0.0.1:0 }
store: sqlite:${join(dir, 'warden.db')}
recordings: ${join(dir, 'recordings')}
dataDir: ${join(dir, 'data')}
identity: { dev: true }
connections:
  box: { type: lines, port: ${targetPort} }
access:
  - groups: [agents]
    connections: [box]
rules:
  - name: no-rm
    when: op.kind == 'command' && op.command.argv[0] == 'rm'
    action: block
    message: nothing is removed here
masking:
  - connections: [box]
    detect: [email]
`,
      { baseDir: dir, env: {} },
    );
    running = await startGateway(config, { logger: createLogger({ level: 'silent' }) });
  });
  after(async () => {
    await running?.close();
    target?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('allows, masks, blocks and audits through the core', async () => {
    const port = running.ports.lines;
    assert.ok(port, 'the shared listener bound listen.lines');
    const token = await running.devIssuer!.mint({ sub: 'liner', groups: ['agents'], ttlMs: 60_000 });
    const c = await linesClient(port);
    try {
      assert.equal(await c.send(`box ${token}`), 'OK');
      const answer = await c.send('uptime');
      assert.match(answer, /^ran uptime for /);
      assert.doesNotMatch(answer, /ada@example\.com/, 'the core masked the email');
      assert.match(await c.send('rm -rf /'), /^ERR blocked by rule no-rm: nothing is removed here/);
      assert.match(await c.send('whoami'), /^ran whoami/, 'the session keeps working after a block');
    } finally {
      c.close();
    }
    await running.gateway.audit.flush();
    const ops = (await running.gateway.audit.list({ type: 'operation' })).filter((e) => e.actor === 'liner');
    assert.deepEqual(
      ops.map((e) => [e.data.text, e.data.effect]),
      [
        ['uptime', 'mask'],
        ['rm -rf /', 'block'],
        ['whoami', 'mask'],
      ],
    );
  });

  it('loads a protocol analysis at its first session, not at start; a failed load refuses the session', async () => {
    // Nothing in this gateway speaks SQL: starting it loaded no libpg-query (~10 MB resident).
    assert.equal(analysisReady(), false, 'startGateway did not load the SQL parser');
    const before = analysis.loads;
    const bad = await linesClient(running.ports.lines!);
    try {
      assert.match(await bad.send('box not-a-token'), /^ERR /);
    } finally {
      bad.close();
    }
    assert.equal(analysis.loads, before, 'an unauthenticated client does not make the gateway load anything');
    const token = await running.devIssuer!.mint({ sub: 'loader', groups: ['agents'], ttlMs: 60_000 });
    analysis.failNext = true;
    const refused = await linesClient(running.ports.lines!);
    try {
      assert.equal(
        await refused.send(`box ${token}`),
        'ERR the operation analysis for lines connections could not be loaded',
      );
    } finally {
      refused.close();
    }
    const c = await linesClient(running.ports.lines!);
    try {
      assert.equal(await c.send(`box ${token}`), 'OK', 'the next session loads it and is served');
      assert.match(await c.send('uptime'), /^ran uptime/);
    } finally {
      c.close();
    }
    await running.gateway.audit.flush();
    const denied = (await running.gateway.audit.list({ type: 'session.denied' })).filter((e) => e.actor === 'loader');
    assert.equal(denied.length, 1, 'the refused session is audited');
    assert.equal(denied[0]!.data.code, 'WARDEN_POLICY_ERROR');
  });

  it('refuses a bad token in its own protocol', async () => {
    const c = await linesClient(running.ports.lines!);
    try {
      assert.match(await c.send('box not-a-token'), /^ERR /);
    } finally {
      c.close();
    }
  });
});
