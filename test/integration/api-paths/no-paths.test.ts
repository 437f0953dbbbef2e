// No server paths in API responses (issue 9, item 6): as an admin, call every GET route of the
// OpenAPI document (path parameters filled with real ids: a recorded session, a review, an access
// request) and the unversioned GET routes, and assert no body names the gateway's folder, its
// dataDir or recordings folder, or any path under /tmp/ or /work/.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';

/** Every string anywhere in a JSON value. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) strings(x, strings(k, out));
  return out;
}

describe('no server paths in API responses', () => {
  const suite = shopGatewaySuite();

  it('no GET route of the OpenAPI document answers with a server path', async () => {
    const { gw } = suite;
    const admin = await gw.token('auditor', ['admins']);
    const get = async (path: string, token: string | null = admin) => {
      const res = await fetch(`${gw.apiUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      return { status: res.status, body: await res.text() };
    };

    // A recorded session with an operation in it, a review and an access request.
    const agent = await gw.token('agent-1', ['agents']);
    const c = new pg.Client({ connectionString: gw.url(agent) });
    await c.connect();
    await c.query('SELECT id, email FROM customers WHERE id = 1');
    const held = (await c.query('DELETE FROM orders').catch((e: unknown) => e)) as { message: string; hint?: string };
    await c.end();
    const reviewId = /\br_[0-9a-z]+/.exec(`${held.message} ${held.hint ?? ''}`)?.[0];
    assert.ok(reviewId, `a review id in: ${held.message}`);
    const oncall = await gw.token('olivia', ['oncall']);
    const req = await fetch(`${gw.apiUrl}/api/v1/access-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${oncall}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'shop', duration: '30m', reason: 'incident' }),
    });
    assert.equal(req.status < 300, true, await req.clone().text());
    const accessId = ((await req.json()) as { request: { id: string } }).request.id;
    await new Promise((r) => setTimeout(r, 300)); // the session's end is recorded
    const sessions = JSON.parse((await get('/api/v1/sessions?limit=50')).body) as {
      sessions: { id: string; sub: string }[];
    };
    const sessionId = sessions.sessions.find((s) => s.sub === 'agent-1')?.id;
    assert.ok(sessionId, 'the session is listed');

    const docRes = await get('/api/v1/openapi.json');
    assert.equal(docRes.status, 200);
    const doc = JSON.parse(docRes.body) as { paths: Record<string, Record<string, unknown>> };
    const ids: Record<string, string> = { sessions: sessionId, reviews: reviewId, 'access-requests': accessId };
    const urls: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!ops.get) continue;
      const filled = path.replace(/\{(\w+)\}/g, (_m, _name: string) => {
        const resource = /^\/api\/v1\/([^/]+)\//.exec(path)?.[1] ?? '';
        const id = ids[resource];
        assert.ok(id, `no id for ${path}`);
        return encodeURIComponent(id);
      });
      urls.push(filled);
    }
    assert.ok(
      urls.some((u) => u.includes(sessionId)) &&
        urls.some((u) => u.includes(reviewId)) &&
        urls.some((u) => u.includes(accessId)),
    );
    // Lists with every state, and the unversioned GET routes.
    urls.push(
      '/api/v1/reviews?state=all',
      '/api/v1/access-requests?state=all',
      '/healthz',
      '/metrics',
      '/dev/.well-known/openid-configuration',
      '/dev/jwks.json',
    );

    const config = gw.running.gateway.config;
    const forbidden = [gw.dir, config.dataDir, join(gw.dir, 'recordings'), String(config.recordings ?? '')].filter(
      (p) => p.length > 1,
    );
    /** Server paths in one response body (JSON, JSON lines, or text). */
    const serverPaths = (body: string): string[] => {
      const found = forbidden.filter((p) => body.includes(p));
      let values: string[] = [];
      try {
        values = strings(JSON.parse(body));
      } catch {
        // not JSON (metrics, a recording as JSON lines): every line that parses, else the line itself
        for (const line of body.split('\n')) {
          try {
            strings(JSON.parse(line), values);
          } catch {
            values.push(line);
          }
        }
      }
      return [...found, ...values.filter((s) => /(^|[\s"'(=:])\/(tmp|work)\//.test(s))];
    };
    // The check itself catches what it looks for.
    assert.ok(serverPaths(JSON.stringify({ session: { file: join(config.dataDir, 'x.jsonl') } })).length > 0);
    assert.ok(serverPaths('{"a":"/work/main/x"}').length > 0 && serverPaths('{"note":"see /tmp/x"}').length > 0);
    assert.deepEqual(serverPaths('{"a":"select 1 / 2","b":"https://example/tmp/x"}'), []);

    const offenders: string[] = [];
    for (const url of urls) {
      const r = await get(url);
      assert.ok(r.status < 500, `${url}: ${r.status} ${r.body.slice(0, 200)}`);
      if (url.includes(sessionId) || url.includes(reviewId) || url.includes(accessId)) {
        assert.equal(r.status, 200, `${url}: ${r.body.slice(0, 200)}`);
      }
      const hits = serverPaths(r.body);
      if (hits.length) offenders.push(`GET ${url} (${r.status}): ${hits.join(', ').slice(0, 300)}`);
    }
    assert.deepEqual(offenders, [], 'server paths in API responses');
    assert.ok(urls.length >= 14, `${urls.length} GET routes called`);
  });
});
