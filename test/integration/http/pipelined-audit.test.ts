// Pipelined audit for safe requests: a GET or HEAD without a body is forwarded while its audit
// entry commits, and its answer is held until the entry is committed. The invariant, shown with
// real curl: no answer ever reaches the client for an operation whose audit entry did not commit
// (the target did get the request: that is the pipelining). Writes and GETs with a body still
// wait for their entry before anything is forwarded.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../../../src/audit/record.js';
import { failOperationAudits } from '../../conformance/control.js';
import { type CurlResult, curl, type HttpGateway, startHttpGateway, startUpstream, type Upstream } from './support.js';

const SMALL = JSON.stringify({ name: 'Ann', email: 'ann@example.com', marker: 'UPSTREAM-SMALL' });
/** Larger than what the gateway reads whole (64 KiB) and sent without a length: streamed. */
const BIG = JSON.stringify(
  Array.from({ length: 2000 }, (_, i) => ({ id: i, email: 'bob@example.com', marker: 'UPSTREAM-BIG' })),
);

describe('HTTP gateway: pipelined audit for GET and HEAD', () => {
  let up: Upstream;
  let gw: HttpGateway;
  let token: string;
  let base: string;
  /** Resolves when the upstream has written its whole answer to the last /small request. */
  let answered: Promise<void> = Promise.resolve();

  before(async () => {
    up = await startUpstream((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/small') {
        answered = new Promise((r) => res.once('finish', () => r()));
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        res.end(SMALL);
      } else if (path === '/big') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        res.write(BIG.slice(0, 1000));
        res.end(BIG.slice(1000));
      } else {
        res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        res.end('{"written":"UPSTREAM-WRITE"}');
      }
    });
    gw = await startHttpGateway({
      connections: `  api:
    type: http
    url: ${up.url}`,
      policy: `
access:
  - groups: [agents]
    connections: [api]
masking:
  - connections: [api]
    columns: [email]
`,
    });
    token = await gw.token('pipelined-agent', ['agents']);
    base = `http://127.0.0.1:${gw.httpPort}/api`;
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
  });

  const auth = () => ['-H', `Authorization: Bearer ${token}`];

  it('an entry that cannot be written: the GET reached the target, its answer never reaches curl (503), the session ends', async () => {
    const audit = gw.running.gateway.audit;
    const restore = failOperationAudits(audit);
    const seen = up.seen.length;
    const got: CurlResult[] = [];
    try {
      got.push(await curl([...auth(), `${base}/small`]));
      got.push(await curl([...auth(), `${base}/big`]));
      got.push(await curl([...auth(), '-I', `${base}/small`]));
      got.push(await curl([...auth(), '-X', 'POST', '--data', '{"a":1}', `${base}/write`]));
      got.push(await curl([...auth(), '-X', 'GET', '--data', '{"a":1}', `${base}/small`]));
    } finally {
      restore();
    }
    const [small, big, head, write, getWithBody] = got as [CurlResult, CurlResult, CurlResult, CurlResult, CurlResult];
    // The three safe requests were forwarded at once (pipelined)…
    assert.deepEqual(
      up.seen.slice(seen).map((r) => `${r.method} ${r.url}`),
      ['GET /small', 'GET /big', 'HEAD /small'],
      'the write and the GET with a body waited for their entries, so were never forwarded',
    );
    // …and nothing of their answers reached the client.
    for (const [name, r] of Object.entries({ small, big, head })) {
      assert.equal(r.status, 503, `${name}: ${r.status} ${r.body}`);
      assert.equal(r.headers['x-upstream'], undefined, `${name}: the target's headers reached the client`);
      assert.doesNotMatch(r.body, /UPSTREAM-|Ann|example\.com/, `${name}: the target's body reached the client`);
      assert.equal(r.headers.connection, 'close');
    }
    assert.equal(JSON.parse(small.body).code, 'WARDEN_AUDIT_WRITE_FAILED');
    assert.equal(JSON.parse(big.body).code, 'WARDEN_AUDIT_WRITE_FAILED');
    // Not pipelined: refused before forwarding (fail closed), as before.
    for (const r of [write, getWithBody]) {
      assert.equal(r.status, 503, r.body);
      assert.doesNotMatch(r.body, /UPSTREAM-/);
    }
    // Each pipelined failure ended its session, audited with why.
    await audit.flush();
    const ends = (await audit.list({ type: 'session.end' })).filter(
      (e) => (e.data as { reason?: string }).reason === 'audit write failed after a pipelined request',
    );
    assert.equal(ends.length, 3, JSON.stringify(ends.map((e) => e.data)));

    // The gateway recovers: the same GET is answered, masked, once its entry is written.
    const ok = await curl([...auth(), `${base}/small`]);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).marker, 'UPSTREAM-SMALL');
    assert.doesNotMatch(ok.body, /ann@example\.com/);
  });

  it('the answer is held until the entry is committed, then sent', async () => {
    const audit = gw.running.gateway.audit;
    const append = audit.appendDurable.bind(audit);
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    audit.appendDurable = (entry: AuditEntry) =>
      entry.type === 'operation' ? released.then(() => append(entry)) : append(entry);
    const seen = up.seen.length;
    const s = connect(gw.httpPort, '127.0.0.1');
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => {});
    try {
      await new Promise((r) => s.once('connect', r));
      s.write(`GET /api/small HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      // The target gets the request and answers while the entry is still being written…
      for (let i = 0; i < 2000 && up.seen.length === seen; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(up.seen.length, seen + 1, 'the GET was forwarded while its entry was being written');
      await answered;
      // …(time for its answer to cross the gateway, were it not held)…
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(got, '', 'an answer reached the client before its audit entry was committed');
    } finally {
      audit.appendDurable = append;
      release();
    }
    // …and the client gets it once the entry is committed.
    for (let i = 0; i < 2000 && !got.includes('UPSTREAM-SMALL'); i++) await new Promise((r) => setTimeout(r, 10));
    s.destroy();
    assert.match(got, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(got, /ann@example\.com/);
    const ops = await audit.list({ type: 'operation' });
    assert.ok(
      ops.some((e) => (e.data as { text?: string }).text === 'GET /small'),
      JSON.stringify(ops.map((e) => e.data)),
    );
  });
});
