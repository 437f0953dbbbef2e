// HTTP semantics at the edges, through real curl (and raw sockets where curl cannot say it):
// method overrides (headers stripped, `_method` that names another method refused), Expect:
// 100-continue (a refusal arrives before the upload), request bodies over 1 MiB (json null,
// bodyBytes set, streamed; a rule reading a JSON field fails closed), hop-by-hop headers both
// ways, HEAD/204/304 framing, chunked trailers, and Location rewriting.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { curl, type HttpGateway, startHttpGateway, startUpstream, type Upstream } from './support.js';

const POLICY = `
access:
  - groups: [agents]
    connections: [api]
rules:
  - name: no-deletes
    when: op.kind == 'http' && op.http.method == 'DELETE'
    action: block
    message: nothing is deleted through Warden
  - name: big-refunds
    when: op.kind == 'http' && op.http.method == 'POST' && op.http.path == '/refunds' && op.http.json.amount > 1000
    action: block
    message: refunds above 1000 are refused
masking:
  - connections: [api]
    columns: [email]
    detect: [email]
`;

/** curl with its own measure of what it uploaded: status, bytes uploaded, body. */
function curlUpload(args: string[]): Promise<{ status: number; uploaded: number; body: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '30', '-w', '\n%{http_code} %{size_upload}', ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout) => {
        if (err && !stdout) {
          reject(err);
          return;
        }
        const text = stdout.toString();
        const nl = text.lastIndexOf('\n');
        const [status, uploaded] = text.slice(nl + 1).split(' ');
        resolve({ status: Number(status), uploaded: Number(uploaded), body: text.slice(0, nl) });
      },
    );
  });
}

/** Raw bytes on one connection; what the gateway answered once `until` holds (or it closed). */
function rawExchange(port: number, bytes: string, until: (out: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(out);
    };
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer in 30 s: ${out}`));
    }, 30_000);
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (until(out)) done();
    });
    s.on('error', done);
    s.on('close', done);
    s.on('connect', () => s.write(bytes));
  });
}

/** The chunked body's last chunk arrived (`n` times). */
const chunkedEnds = (n: number) => (out: string) => out.split('\r\n0\r\n\r\n').length > n;
/** The last answer in `out` is whole: its chunked end, or as many body bytes as its Content-Length. */
function lastAnswerEnds(out: string): boolean {
  const last = out.slice(out.lastIndexOf('HTTP/1.1 '));
  const head = last.indexOf('\r\n\r\n');
  if (head === -1) return false;
  const length = /^content-length: *(\d+)/im.exec(last.slice(0, head));
  if (!length) return chunkedEnds(1)(last);
  return Buffer.byteLength(last.slice(head + 4)) >= Number(length[1]);
}

describe('HTTP gateway: method overrides, Expect, big bodies, hop-by-hop, bodiless responses, trailers, redirects', () => {
  let up: Upstream;
  let gw: HttpGateway;
  let token: string;
  let admin: string;
  let base: string;
  let files: string;

  before(async () => {
    files = await mkdtemp(join(tmpdir(), 'warden-edges-'));
    up = await startUpstream((req, res, body) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/v1/person') {
        const json = JSON.stringify({ name: 'Ann', email: 'ann@example.com' });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
        res.end(req.method === 'HEAD' ? undefined : json);
      } else if (path === '/v1/nothing') {
        res.writeHead(204, { 'x-done': '1' }).end();
      } else if (path === '/v1/cached') {
        if (req.headers['if-none-match'] === '"v1"') res.writeHead(304, { etag: '"v1"' }).end();
        else res.writeHead(200, { etag: '"v1"', 'content-type': 'text/plain' }).end('fresh\n');
      } else if (path === '/v1/hop') {
        res.writeHead(200, {
          'content-type': 'text/plain',
          connection: 'keep-alive, x-internal',
          'x-internal': 'upstream-only',
          'keep-alive': 'timeout=5, max=7',
          'proxy-authenticate': 'Basic realm="up"',
          'x-kept': 'yes',
        });
        res.end('ok\n');
      } else if (path === '/v1/trailers') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: 'x-checksum' });
        res.write('part one,');
        res.write('part two');
        res.addTrailers({ 'x-checksum': 'sha-of-unmasked-body' });
        res.end();
      } else if (path?.startsWith('/v1/redirect/')) {
        const to = {
          absolute: `${up.url}/v1/person?x=1`,
          relative: '/v1/person#top',
          outside: '/elsewhere/person',
          other: 'https://other.example/v1/person',
        }[path.slice('/v1/redirect/'.length)];
        res.writeHead(302, { location: to ?? '/' }).end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, url: req.url, bytes: body.length, trailers: req.trailers }));
      }
    });
    gw = await startHttpGateway({
      connections: `  api:
    type: http
    url: ${up.url}/v1
`,
      policy: POLICY,
    });
    token = await gw.token('edge-agent', ['agents']);
    admin = await gw.token('edge-admin', ['admins']);
    base = `http://127.0.0.1:${gw.httpPort}`;
  });

  after(async () => {
    await gw?.stop();
    await up?.close();
    await rm(files, { recursive: true, force: true });
  });

  const auth = () => ['-H', `Authorization: Bearer ${token}`];

  it('strips every method-override header: the upstream runs (and the rules see) the request method', async () => {
    for (const h of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
      const r = await curl([...auth(), '-X', 'POST', '-H', `${h}: DELETE`, `${base}/api/items/7`]);
      assert.equal(r.status, 200, h);
      const seen = up.seen.at(-1)!;
      assert.equal(seen.method, 'POST');
      assert.equal(seen.headers[h.toLowerCase()], undefined, `${h} reached the upstream`);
    }
  });

  it('a _method naming another method is refused (query, encoded name, form, multipart); DELETE rules cannot be dodged', async () => {
    const before = up.seen.length;
    const refused = [
      [...auth(), '-X', 'POST', `${base}/api/items/7?_method=DELETE`],
      [...auth(), '-X', 'POST', `${base}/api/items/7?a=1&%5Fmethod=delete`],
      [...auth(), '-X', 'POST', `${base}/api/items/7?_METHOD=DELETE`],
      [...auth(), '-X', 'POST', `${base}/api/items/7?a=1;_method=DELETE`],
      [...auth(), '--data', 'a=1&_method=DELETE', `${base}/api/items/7`],
      [...auth(), '-F', 'a=1', '-F', '_method=DELETE', `${base}/api/items/7`],
      [...auth(), '-X', 'GET', `${base}/api/items/7?_method=DELETE`],
    ];
    for (const args of refused) {
      const r = await curl(args);
      assert.equal(r.status, 400, args.join(' '));
      const p = JSON.parse(r.body);
      assert.match(p.detail, /_method/);
    }
    assert.equal(up.seen.length, before, 'none of them reached the upstream');
    // The real DELETE is blocked by its rule; a _method equal to the method is harmless.
    const del = await curl([...auth(), '-X', 'DELETE', `${base}/api/items/7`]);
    assert.equal(del.status, 403);
    assert.deepEqual(JSON.parse(del.body).rules, ['no-deletes']);
    const same = await curl([...auth(), '-X', 'POST', `${base}/api/items/7?_method=post`]);
    assert.equal(same.status, 200);
    const form = await curl([...auth(), '--data', '_method=POST&a=1', `${base}/api/items/7`]);
    assert.equal(form.status, 200);
    // A form body too large to be read before the decision is scanned as it streams: one at
    // its end fails the upstream request mid-body (the upstream never runs it) and gets a 400.
    const pad = 'x'.repeat(1_200_000);
    const bigForm = join(files, 'big.form');
    await writeFile(bigForm, `a=${pad}&%5Fmethod=DELETE`);
    const big = await curlUpload([...auth(), '--data-binary', `@${bigForm}`, `${base}/api/items/7`]);
    assert.equal(big.status, 400, big.body);
    assert.match(JSON.parse(big.body).detail, /_method/);
    const bigFile = join(files, 'big.bin');
    await writeFile(bigFile, Buffer.alloc(2_000_000, 'f'));
    const multi = await curlUpload([
      ...auth(),
      '-F',
      `file=@${bigFile}`,
      '-F',
      '_method=DELETE',
      `${base}/api/items/7`,
    ]);
    assert.equal(multi.status, 400, multi.body);
    assert.equal(up.seen.length, before + 2, 'the upstream ran none of them');
    // Large forms without an override go through whole (curl's default type for --data-binary).
    await writeFile(bigForm, `a=${pad}&_method=post`);
    const plain = await curlUpload([...auth(), '--data-binary', `@${bigForm}`, `${base}/api/items/7`]);
    assert.equal(plain.status, 200, plain.body);
    assert.equal(JSON.parse(plain.body).bytes, pad.length + 15);
    const upload = await curlUpload([...auth(), '-F', `file=@${bigFile}`, '-F', 'note=_method', `${base}/api/items/7`]);
    assert.equal(upload.status, 200, upload.body);
    assert.equal(up.seen.length, before + 4);
  });

  it('Expect: 100-continue: a refused upload gets its 403 before curl sends the body; an allowed one streams through', async () => {
    const body = join(files, 'upload.bin');
    await writeFile(body, Buffer.alloc(3 * 1024 * 1024, 'u'));
    const before = up.seen.length;
    const refused = await curlUpload([
      ...auth(),
      '-X',
      'DELETE',
      '-H',
      'Expect: 100-continue',
      '--expect100-timeout',
      '10',
      '-H',
      'content-type: application/octet-stream',
      '--data-binary',
      `@${body}`,
      `${base}/api/items/7`,
    ]);
    assert.equal(refused.status, 403);
    assert.equal(JSON.parse(refused.body).code, 'WARDEN_BLOCKED');
    assert.equal(refused.uploaded, 0, 'curl uploaded the body of a refused request');
    // Refused before the decision (no token): no upload either, even for a small body.
    for (const size of ['3m', 'small']) {
      const anon = await curlUpload([
        '-H',
        'Authorization: Bearer not-a-token',
        '-H',
        'Expect: 100-continue',
        '--expect100-timeout',
        '10',
        '-H',
        'content-type: application/octet-stream',
        ...(size === 'small' ? ['--data', 'tiny body'] : ['--data-binary', `@${body}`]),
        `${base}/api/upload`,
      ]);
      assert.equal(anon.status, 401, size);
      assert.equal(anon.uploaded, 0, `${size}: uploaded before the token was checked`);
    }
    assert.equal(up.seen.length, before);

    // curl's own default (Expect for a large body) and an explicit one: both go through whole.
    for (const extra of [[], ['-H', 'Expect: 100-continue']]) {
      const ok = await curlUpload([
        ...auth(),
        ...extra,
        '-H',
        'content-type: application/octet-stream',
        '--data-binary',
        `@${body}`,
        `${base}/api/upload`,
      ]);
      assert.equal(ok.status, 200, ok.body);
      assert.equal(JSON.parse(ok.body).bytes, 3 * 1024 * 1024);
      assert.equal(ok.uploaded, 3 * 1024 * 1024);
    }
    // A small body with Expect is read before the decision (the rules may read its JSON).
    const small = await curl([
      ...auth(),
      '-H',
      'Expect: 100-continue',
      '-H',
      'content-type: application/json',
      '--data',
      '{"amount": 5000}',
      `${base}/api/refunds`,
    ]);
    assert.equal(small.status, 403);
    assert.deepEqual(JSON.parse(small.body).rules, ['big-refunds']);
  });

  it('a JSON body over 1 MiB: streamed whole, json null, bodyBytes set; a rule reading a JSON field fails closed (503)', async () => {
    const bigJson = join(files, 'big.json');
    const json = JSON.stringify({ amount: 5000, pad: 'p'.repeat(1_500_000) });
    await writeFile(bigJson, json);
    const before = up.seen.length;
    // With and without Expect: the refund's amount cannot be read, so the rule cannot say no:
    // the decision is an error, and an error refuses.
    for (const expect of ['Expect: 100-continue', 'Expect:']) {
      const r = await curlUpload([
        ...auth(),
        '-H',
        expect,
        '-H',
        'content-type: application/json',
        '--data-binary',
        `@${bigJson}`,
        `${base}/api/refunds`,
      ]);
      assert.equal(r.status, 503, `${expect}: ${r.body}`);
      const p = JSON.parse(r.body);
      assert.equal(p.code, 'WARDEN_POLICY_ERROR');
      assert.deepEqual(p.rules, ['big-refunds']);
      assert.match(p.detail, /big-refunds/);
      if (expect !== 'Expect:') assert.equal(r.uploaded, 0, 'decided before the upload');
    }
    assert.equal(up.seen.length, before, 'the refund never reached the upstream');

    const ok = await curlUpload([
      ...auth(),
      '-H',
      'content-type: application/json',
      '--data-binary',
      `@${bigJson}`,
      `${base}/api/imports`,
    ]);
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).bytes, json.length, 'the whole body reached the upstream');
    assert.equal(up.seen.at(-1)!.body, json);

    // The audit entry names it by its size; the recording has bodyBytes and no body.
    const r = await fetch(`${gw.apiUrl}/api/v1/audit?type=operation&limit=10000`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const { entries } = (await r.json()) as { entries: { actor: string; data: { text: string } }[] };
    const entry = entries.find((e) => e.actor === 'edge-agent' && e.data.text.startsWith('POST /imports'));
    assert.ok(entry, 'the big import is audited');
    assert.match(entry.data.text, new RegExp(`streamed body of ${json.length} bytes`));
    const recorded = (await recordedResults(gw)).find((e) => e.request?.target === '/imports');
    assert.ok(recorded, 'the exchange is recorded');
    assert.equal(recorded.request!.bodyBytes, json.length);
    assert.equal(recorded.request!.body, null);
  });

  it('hop-by-hop headers stop at the gateway both ways (RFC 9110 §7.6.1), Connection-named ones too', async () => {
    const r = await curl([
      ...auth(),
      '-H',
      'Connection: keep-alive, X-Hop-Secret',
      '-H',
      'X-Hop-Secret: client-only',
      '-H',
      'Keep-Alive: timeout=1',
      '-H',
      'TE: trailers',
      '-H',
      'Proxy-Authorization: Basic Zm9vOmJhcg==',
      '-H',
      'Upgrade-Insecure-Requests: 1',
      `${base}/api/echo`,
    ]);
    assert.equal(r.status, 200);
    const seen = up.seen.at(-1)!.headers;
    for (const h of ['x-hop-secret', 'te', 'proxy-authorization']) assert.equal(seen[h], undefined, `${h} forwarded`);
    assert.notEqual(seen['keep-alive'], 'timeout=1', 'the client keep-alive went upstream');
    assert.equal(seen['upgrade-insecure-requests'], '1', 'an end-to-end header is kept');

    const h = await curl([...auth(), `${base}/api/hop`]);
    assert.equal(h.status, 200);
    assert.equal(h.headers['x-internal'], undefined, 'a header the upstream named in Connection reached the client');
    assert.equal(h.headers['proxy-authenticate'], undefined);
    assert.notEqual(h.headers['keep-alive'], 'timeout=5, max=7');
    assert.equal(h.headers['x-kept'], 'yes');
  });

  it('HEAD, 204 and 304 carry no body (no stale length when masked), and the connection stays in step', async () => {
    const head = await curl([...auth(), '-I', `${base}/api/person`]);
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], undefined, 'HEAD announced the unmasked length');
    // Pipelined on one keep-alive connection: each bodiless answer ends where it should.
    const a = `Authorization: Bearer ${token}\r\nHost: gw\r\n`;
    const out = await rawExchange(
      gw.httpPort,
      `HEAD /api/person HTTP/1.1\r\n${a}\r\n` +
        `GET /api/nothing HTTP/1.1\r\n${a}\r\n` +
        `GET /api/cached HTTP/1.1\r\n${a}If-None-Match: "v1"\r\n\r\n` +
        `GET /api/person HTTP/1.1\r\n${a}\r\n`,
      (o) => (o.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0) >= 4 && lastAnswerEnds(o),
    );
    const statuses = [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '204', '304', '200'], out);
    assert.match(out, /etag: "v1"/i);
    assert.match(out, /x-done: 1/i);
    const last = out.slice(out.lastIndexOf('HTTP/1.1 200'));
    assert.match(last, /"name":"Ann"/);
    assert.doesNotMatch(out, /ann@example\.com/);
    assert.equal(out.match(/"name":"Ann"/g)?.length, 1, 'only the GET had a body');
  });

  it('chunked trailers are dropped both ways (they would pass unmasked); the body arrives whole', async () => {
    const out = await rawExchange(
      gw.httpPort,
      `GET /api/trailers HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nTE: trailers\r\n\r\n`,
      // The last chunk, then trailer fields if any were passed, then the blank line.
      (o) => /\r\n0\r\n(?:[^\r\n]+\r\n)*\r\n$/.test(o),
    );
    assert.match(out, /^HTTP\/1\.1 200/);
    assert.match(out, /part one,/);
    assert.match(out, /part two/);
    assert.doesNotMatch(out, /x-checksum|sha-of-unmasked-body/i, 'a trailer reached the client');
    assert.doesNotMatch(out, /^trailer:/im);
    const sent = await rawExchange(
      gw.httpPort,
      `POST /api/echo HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\nTrailer: x-client-trailer\r\n\r\n` +
        '5\r\nhello\r\n0\r\nX-Client-Trailer: smuggled\r\n\r\n',
      chunkedEnds(1),
    );
    assert.match(sent, /^HTTP\/1\.1 200/);
    const echoed = JSON.parse(sent.slice(sent.indexOf('{'), sent.lastIndexOf('}') + 1));
    assert.equal(echoed.bytes, 5);
    assert.deepEqual(echoed.trailers, {}, 'a client trailer reached the upstream');
  });

  it('Location into the upstream is rewritten into the prefix; elsewhere is left alone', async () => {
    const cases: Record<string, string> = {
      absolute: '/api/person?x=1',
      relative: '/api/person#top',
      outside: '/elsewhere/person',
      other: 'https://other.example/v1/person',
    };
    for (const [name, want] of Object.entries(cases)) {
      const r = await curl([...auth(), `${base}/api/redirect/${name}`]);
      assert.equal(r.status, 302, name);
      assert.equal(r.headers.location, want, name);
    }
  });
});

interface RecordedResult {
  type: string;
  status?: number;
  request?: { target: string; body: string | null; bodyBytes: number | null };
}

async function recordedResults(gw: HttpGateway): Promise<RecordedResult[]> {
  const dir = join(gw.dir, 'recordings');
  const out: RecordedResult[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else
        for (const line of (await readFile(p, 'utf8')).split('\n'))
          if (line.trim()) out.push(JSON.parse(line) as RecordedResult);
    }
  };
  await walk(dir);
  return out.filter((e) => e.type === 'result');
}
