// Authenticate before parsing: a flood of 4 MiB nested-JSON bodies without a token on /mcp is
// refused before any body is read: it costs the gateway a small fraction of the CPU of parsing one
// such body (same-run ratio, no wall-clock threshold), and psql through the gateway is served meanwhile.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { median, percentile, rawRequest, run, TimedPsql } from './support.js';

const BODY_BYTES = 4 * 1024 * 1024;
const FLOOD_REQUESTS = 40;
const FLOOD_CONCURRENCY = 8;

/** A JSON-RPC initialize whose params are 4 MiB of nested arrays (each run 1000 deep). */
function nestedJson(): Buffer {
  const head = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":[';
  const unit = `${'['.repeat(1000)}${']'.repeat(1000)},`;
  const tail = '0]}}';
  const n = Math.floor((BODY_BYTES - head.length - tail.length) / unit.length);
  return Buffer.from(head + unit.repeat(n) + tail);
}

/** CPU time (user + system, this process) that `fn` takes, in ms. */
function cpuMsOf(fn: () => unknown): number {
  const start = process.cpuUsage();
  fn();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

interface FloodResult {
  /** This process's CPU time while the flood ran, in ms. */
  cpuMs: number;
  wallMs: number;
  /** curl's own time_total per request (information only). */
  curlMs: number[];
}

/**
 * FLOOD_REQUESTS POSTs of `file` to /mcp with curl, FLOOD_CONCURRENCY at a time in parallel
 * processes. Without a token, asserts each was refused 401 with `Connection: close` (its body not
 * read); with one, that each was read and refused 400 by the JSON depth limit (not parsed).
 */
async function flood(file: string, apiUrl: string, token?: string): Promise<FloodResult> {
  const cpuStart = process.cpuUsage();
  const started = Date.now();
  const out = await run('sh', [
    '-c',
    `seq ${FLOOD_REQUESTS} | xargs -P ${FLOOD_CONCURRENCY} -I{} curl -s -o /dev/null ` +
      `-w '%{http_code} %{time_total} %header{connection}\\n' -H 'content-type: application/json' ` +
      `-H 'accept: application/json, text/event-stream' ${token ? `-H 'authorization: Bearer ${token}' ` : ''}--data-binary @${file} ${apiUrl}/mcp`,
  ]);
  const cpu = process.cpuUsage(cpuStart);
  const wallMs = Date.now() - started;
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines.length, FLOOD_REQUESTS, out.stderr);
  const curlMs = lines.map((l) => {
    const [code, total, connection] = l.split(' ');
    if (token) assert.equal(code, '400', l);
    else {
      assert.equal(code, '401', l);
      assert.equal(connection, 'close', `refused unread: ${l}`);
    }
    return Number(total) * 1000;
  });
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, curlMs };
}

describe('authenticate before parsing', () => {
  const suite = shopGatewaySuite();

  it('an unauthenticated 4 MiB body is answered 401 before the server has received it', async () => {
    const { gw } = suite;
    const body = nestedJson();
    const head = [
      'POST /mcp HTTP/1.1',
      `Host: 127.0.0.1:${gw.apiPort}`,
      'Content-Type: application/json',
      'Accept: application/json, text/event-stream',
      `Content-Length: ${body.length}`,
    ].join('\r\n');
    // Only 1 KiB of the 4 MiB is ever sent: the answer cannot depend on parsing the body.
    const res = await rawRequest(gw.apiPort, head, body, { holdBack: 1024 });
    assert.equal(res.status, 401);
    assert.equal(
      res.headers['www-authenticate'],
      `Bearer resource_metadata="${gw.apiUrl}/.well-known/oauth-protected-resource"`,
    );
    assert.equal(res.headers.connection, 'close', 'the rest of the body is not read');
    assert.equal(JSON.parse(res.body).code, 'WARDEN_TOKEN_INVALID');

    // The same on /api/v1 and on an unknown route; and a public route takes no large body.
    for (const path of ['/api/v1/exec', '/nowhere']) {
      const r = await rawRequest(gw.apiPort, head.replace('POST /mcp', `POST ${path}`), body, { holdBack: 1024 });
      assert.equal(r.status, path === '/nowhere' ? 404 : 401, path);
    }
    const pub = await rawRequest(
      gw.apiPort,
      head.replace('POST /mcp', 'GET /.well-known/oauth-protected-resource'),
      body,
      { holdBack: 1024 },
    );
    assert.equal(pub.status, 413);
  });

  it('with a token, the same body is refused by the JSON depth limit (400 problem JSON)', async () => {
    const { gw } = suite;
    const token = await gw.token('flood-authed', ['agents']);
    const res = await fetch(`${gw.apiUrl}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: nestedJson(),
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    const p = (await res.json()) as { detail: string; code: string };
    assert.match(p.detail, /nested deeper than 64 levels/);
    // 64 levels still reach the route (which then validates the body as usual); 65 do not.
    const post = (depth: number) =>
      fetch(`${gw.apiUrl}/api/v1/policy/test`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: `{"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`,
      }).then(async (r) => ({ status: r.status, detail: ((await r.json()) as { detail: string }).detail }));
    const at64 = await post(64);
    assert.doesNotMatch(at64.detail, /nested deeper/);
    assert.match(at64.detail, /must have required property/, 'the route itself answered');
    const at65 = await post(65);
    assert.equal(at65.status, 400);
    assert.match(at65.detail, /nested deeper than 64 levels/);
    // Brackets inside strings are text, not nesting.
    const inString = await fetch(`${gw.apiUrl}/api/v1/policy/test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ x: '['.repeat(500), y: '\\"[[[' }),
    });
    assert.doesNotMatch(((await inString.json()) as { detail: string }).detail, /nested deeper/);
  });

  it('a nested-JSON flood without a token costs the gateway a fraction of parsing one body, and psql is served meanwhile', async () => {
    const { gw } = suite;
    const body = nestedJson();
    const file = join(gw.dir, 'nested.json');
    await writeFile(file, body);

    // The yardstick, measured in this process (where the gateway runs) in this run: the CPU time of
    // parsing that body once. The least of three is the one least inflated by the other load.
    const parseCpu = Math.min(...[0, 1, 2].map(() => cpuMsOf(() => JSON.parse(body.toString('utf8')) as unknown)));

    // 1. The flood alone: the gateway runs in this process (startTestGateway), curl in child
    //    processes (xargs -P), so this process's CPU during the flood is the gateway's cost of it
    //    (plus this test idling on the child's exit, which only counts against it).
    const alone = await flood(file, gw.apiUrl);
    const perRequest = alone.cpuMs / FLOOD_REQUESTS;
    // The second yardstick: the same flood with a token, whose bodies are read in full and then
    // refused by the depth limit before JSON.parse. That is what reading the body costs.
    const authed = await flood(file, gw.apiUrl, await gw.token('flood-authed-read', ['agents']));
    const readPerRequest = authed.cpuMs / FLOOD_REQUESTS;

    // 2. The flood again while psql runs queries through the gateway's PostgreSQL front door.
    const psql = new TimedPsql(gw.pgPort, await gw.token('flood-psql', ['agents']));
    const baseline: number[] = [];
    const during: number[] = [];
    let withPsql: FloodResult;
    try {
      for (let i = 0; i < 5; i++) await psql.select(i); // connection warm
      for (let i = 0; i < 20; i++) baseline.push(await psql.select(100 + i));
      let floodDone = false;
      const running = flood(file, gw.apiUrl).finally(() => {
        floodDone = true;
      });
      // Each select checks that its own row came back (support.ts), so every query was answered right.
      let n = 1000;
      while (!floodDone) during.push(await psql.select(n++));
      withPsql = await running;
      assert.equal(psql.stderr, '', 'psql saw no error');
    } finally {
      await psql.close();
    }

    // Information only (wall clock on a shared machine proves nothing): latencies and CPU.
    console.log(
      `JSON.parse of the 4 MiB body: ${parseCpu.toFixed(1)} ms CPU; flood (${FLOOD_REQUESTS} x 4 MiB, ` +
        `concurrency ${FLOOD_CONCURRENCY}) alone: ${alone.cpuMs.toFixed(1)} ms gateway CPU in all, ` +
        `${perRequest.toFixed(2)} ms per request (${((100 * perRequest) / parseCpu).toFixed(2)} % of one parse), ` +
        `${alone.wallMs} ms wall, 401 in median ${median(alone.curlMs).toFixed(1)} ms; with a token (read, ` +
        `refused by the depth limit): ${readPerRequest.toFixed(2)} ms CPU per request, ${authed.wallMs} ms wall; ` +
        `psql select baseline median ${median(baseline).toFixed(2)} ms p90 ${percentile(baseline, 0.9).toFixed(2)} ms, ` +
        `during the flood (${withPsql.wallMs} ms, ${during.length} queries) median ${median(during).toFixed(2)} ms ` +
        `p90 ${percentile(during, 0.9).toFixed(2)} ms max ${Math.max(...during).toFixed(2)} ms`,
    );

    // Not parsed: a refused request costs well under a quarter of parsing its body once (measured
    // here: ~0.3 %; parsing took ~0.6 s of CPU before authentication came first).
    assert.ok(
      perRequest < parseCpu / 4,
      `gateway CPU per flood request ${perRequest.toFixed(2)} ms vs ${parseCpu.toFixed(1)} ms to parse the body once`,
    );
    // Not read: it costs under half of reading the body (measured here: ~1/7).
    assert.ok(
      perRequest < readPerRequest / 2,
      `gateway CPU per flood request ${perRequest.toFixed(2)} ms vs ${readPerRequest.toFixed(2)} ms when the body is read`,
    );
    // Other sessions are served: psql queries were answered, each with its own row, while the flood ran.
    assert.ok(during.length >= 3, `psql answered ${during.length} queries during the flood`);
    // And the healthz probe answers.
    const h = await fetch(`${gw.apiUrl}/healthz`);
    assert.equal(h.status, 200);
  });
});
