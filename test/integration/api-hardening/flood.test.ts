// Authenticate before parsing: a flood of 4 MiB nested-JSON bodies without a token on /mcp is
// refused before any body is read, and psql through the gateway keeps its latency meanwhile.
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
    const res = await rawRequest(gw.apiPort, head, body, { holdBack: 1024, timeoutMs: 5000 });
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

  it('a nested-JSON flood without a token does not slow psql through the gateway', async () => {
    const { gw } = suite;
    const file = join(gw.dir, 'nested.json');
    await writeFile(file, nestedJson());
    const psql = new TimedPsql(gw.pgPort, await gw.token('flood-psql', ['agents']));
    try {
      for (let i = 0; i < 5; i++) await psql.select(i); // connection warm
      const baseline: number[] = [];
      for (let i = 0; i < 40; i++) {
        baseline.push(await psql.select(100 + i));
        await new Promise((r) => setTimeout(r, 10));
      }

      // curl in parallel processes (xargs -P): the gateway's event loop is the only one in this process.
      const started = Date.now();
      const flood = run('sh', [
        '-c',
        `seq ${FLOOD_REQUESTS} | xargs -P ${FLOOD_CONCURRENCY} -I{} curl -s -o /dev/null ` +
          `-w '%{http_code} %{time_total} %header{connection}\\n' -H 'content-type: application/json' ` +
          `-H 'accept: application/json, text/event-stream' --data-binary @${file} ${gw.apiUrl}/mcp`,
      ]);
      let floodDone = false;
      void flood.then(() => {
        floodDone = true;
      });
      const during: number[] = [];
      let n = 1000;
      while (!floodDone) {
        during.push(await psql.select(n++));
        await new Promise((r) => setTimeout(r, 10));
      }
      const floodMs = Date.now() - started;
      const out = await flood;
      const lines = out.stdout.trim().split('\n');
      assert.equal(lines.length, FLOOD_REQUESTS, out.stderr);
      const times = lines.map((l) => {
        const [code, total, connection] = l.split(' ');
        assert.equal(code, '401', l);
        assert.equal(connection, 'close', `refused unread: ${l}`);
        return Number(total) * 1000;
      });

      const base = median(baseline);
      const dur = median(during);
      console.log(
        `psql select 1 baseline: median ${base.toFixed(2)} ms p90 ${percentile(baseline, 0.9).toFixed(2)} ms; ` +
          `during flood (${FLOOD_REQUESTS} x 4 MiB, concurrency ${FLOOD_CONCURRENCY}, ${floodMs} ms, ${during.length} queries): ` +
          `median ${dur.toFixed(2)} ms p90 ${percentile(during, 0.9).toFixed(2)} ms max ${Math.max(...during).toFixed(2)} ms; ` +
          `flood 401 answered in median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms`,
      );
      assert.ok(during.length >= 3, 'psql ran during the flood');
      assert.ok(dur <= 2 * base + 50, `psql median during the flood ${dur} ms vs baseline ${base} ms`);
      assert.ok(
        percentile(during, 0.9) <= 2 * percentile(baseline, 0.9) + 50,
        `psql p90 during the flood ${percentile(during, 0.9)} ms`,
      );
      // Parsing a 4 MiB body alone took ~0.6 s before; answered unread it is well under that.
      assert.ok(median(times) < 300, `flood requests answered in ${median(times)} ms`);
    } finally {
      await psql.close();
    }
    // And the healthz probe answers.
    const h = await fetch(`${gw.apiUrl}/healthz`);
    assert.equal(h.status, 200);
  });
});
