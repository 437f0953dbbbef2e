// Host allow-list (listen.publicUrl, the listen host, loopback names) on the API, MCP and the
// protected-resource metadata, which is built from the configured origin, never from Host; and
// /metrics behind `metrics.token`. Requests are sent with curl, which sends the Host we ask for.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { createLogger, freePort } from '../../../src/gateway/index.js';
import { type RunningGateway, startGateway } from '../../../src/server/index.js';
import { shopGatewaySuite, startShopPostgres } from '../../helpers/gateway.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { rawRequest, run } from './support.js';

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function curl(url: string, opts: { host?: string; token?: string; method?: string; body?: string } = {}) {
  const args = ['-s', '-i', '-X', opts.method ?? 'GET'];
  if (opts.host !== undefined) args.push('-H', `Host: ${opts.host}`);
  if (opts.token) args.push('-H', `Authorization: Bearer ${opts.token}`);
  if (opts.body !== undefined) {
    args.push('-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream');
    args.push('--data-binary', opts.body);
  }
  const r = await run('curl', [...args, url]);
  assert.equal(r.code, 0, r.stderr);
  const i = r.stdout.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = r.stdout.slice(0, i).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
  return { status: Number(statusLine?.split(' ')[1]), headers, body: r.stdout.slice(i + 4) } as CurlResult;
}

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
});

describe('Host allow-list (defaults: listen host and loopback names)', () => {
  const suite = shopGatewaySuite();

  it('Host: evil.example is refused on /api/v1, /mcp and the metadata, without echoing it', async () => {
    const { gw } = suite;
    const token = await gw.token('hosty', ['agents']);
    const targets = [
      { url: `${gw.apiUrl}/api/v1/connections`, token },
      { url: `${gw.apiUrl}/mcp`, token, method: 'POST', body: INIT },
      { url: `${gw.apiUrl}/mcp`, method: 'POST', body: INIT }, // no token: refused by Host first
      { url: `${gw.apiUrl}/.well-known/oauth-protected-resource` },
      { url: `${gw.apiUrl}/.well-known/oauth-protected-resource/mcp` },
      { url: `${gw.apiUrl}/dev/jwks.json` },
      { url: `${gw.apiUrl}/api/v1/openapi.json`, token },
    ];
    for (const host of [
      'evil.example',
      `evil.example:${gw.apiPort}`,
      `127.0.0.1.evil.example:${gw.apiPort}`,
      `localhost.evil.example`,
      `evil.example@127.0.0.1`,
      '127.0.0.2',
    ]) {
      for (const t of targets) {
        const r = await curl(t.url, { host, ...t });
        assert.equal(r.status, 421, `${host} ${t.url}: ${r.body}`);
        assert.match(r.headers['content-type'] ?? '', /application\/problem\+json/);
        assert.equal(JSON.parse(r.body).status, 421);
        assert.doesNotMatch(r.body, /evil/);
        assert.equal(r.headers['www-authenticate'], undefined, 'no challenge naming any origin');
      }
    }
  });

  it('loopback names and the listen host are accepted; the metadata and the challenge name the listen address', async () => {
    const { gw } = suite;
    for (const host of [
      `127.0.0.1:${gw.apiPort}`,
      `localhost:${gw.apiPort}`,
      'localhost',
      `[::1]:${gw.apiPort}`,
      'LOCALHOST:9999',
    ]) {
      const meta = await curl(`${gw.apiUrl}/.well-known/oauth-protected-resource`, { host });
      assert.equal(meta.status, 200, host);
      assert.equal(JSON.parse(meta.body).resource, `${gw.apiUrl}/mcp`, `not built from Host ${host}`);
      const challenge = await curl(`${gw.apiUrl}/mcp`, { host, method: 'POST', body: INIT });
      assert.equal(challenge.status, 401);
      assert.equal(
        challenge.headers['www-authenticate'],
        `Bearer resource_metadata="${gw.apiUrl}/.well-known/oauth-protected-resource"`,
      );
    }
  });

  it('a request without Host is refused; health and metrics answer probes of any Host', async () => {
    const { gw } = suite;
    const noHost = await rawRequest(gw.apiPort, 'GET /.well-known/oauth-protected-resource HTTP/1.0');
    assert.equal(noHost.status, 421);
    for (const path of ['/healthz', '/metrics']) {
      const r = await curl(`${gw.apiUrl}${path}`, { host: '10.1.2.3:8080' });
      assert.equal(r.status, 200, path);
    }
    // Without metrics.token, /metrics is public (as before).
    const m = await curl(`${gw.apiUrl}/metrics`);
    assert.match(m.body, /^# HELP /m);
  });
});

describe('listen.publicUrl and metrics.token', () => {
  const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
  let target: TestPostgres;
  let running: RunningGateway;
  let dir: string;
  let apiUrl: string;

  before(async () => {
    target = await startShopPostgres();
    dir = await mkdtemp(join(tmpdir(), 'warden-host-'));
    const port = await freePort();
    const yaml = `
listen:
  api: 127.0.0.1:${port}
  postgres: 127.0.0.1:0
  publicUrl: https://Warden.Example.com
metrics:
  token: \${env:METRICS_TOKEN}
store: sqlite:${join(dir, 'warden.db')}
recordings: ${join(dir, 'recordings')}
dataDir: ${join(dir, 'data')}
identity:
  dev: true
connections:
  shop: { type: postgres, host: 127.0.0.1, port: ${target.port}, database: ${target.database}, user: ${target.user}, password: '\${env:PW}', tls: disable }
access:
  - groups: [agents]
    connections: [shop]
`;
    const { config } = parseConfig(yaml, {
      baseDir: dir,
      env: { ...process.env, PW: target.password, METRICS_TOKEN },
    });
    running = await startGateway(config, { logger: createLogger({ level: 'silent' }) });
    apiUrl = running.apiUrl;
  });
  after(async () => {
    await running?.close();
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the publicUrl host is accepted and the metadata is built from publicUrl', async () => {
    for (const host of ['warden.example.com', 'warden.example.com:443', `127.0.0.1:${running.ports.api}`]) {
      const meta = await curl(`${apiUrl}/.well-known/oauth-protected-resource`, { host });
      assert.equal(meta.status, 200, host);
      assert.equal(JSON.parse(meta.body).resource, 'https://warden.example.com/mcp');
      const challenge = await curl(`${apiUrl}/mcp`, { host, method: 'POST', body: INIT });
      assert.equal(
        challenge.headers['www-authenticate'],
        'Bearer resource_metadata="https://warden.example.com/.well-known/oauth-protected-resource"',
      );
    }
    const evil = await curl(`${apiUrl}/.well-known/oauth-protected-resource`, { host: 'evil.example' });
    assert.equal(evil.status, 421);
    // An MCP client through the public name works end to end.
    const token = await running.devIssuer!.mint({ sub: 'pub', groups: ['agents'], ttlMs: 60_000 });
    const init = await curl(`${apiUrl}/mcp`, { host: 'warden.example.com', token, method: 'POST', body: INIT });
    assert.equal(init.status, 200, init.body);
    assert.ok(init.headers['mcp-session-id']);
  });

  it('/metrics needs the metrics token', async () => {
    const none = await curl(`${apiUrl}/metrics`);
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="warden-metrics"');
    assert.doesNotMatch(none.body, /# HELP/);
    const wrong = await curl(`${apiUrl}/metrics`, { token: `${METRICS_TOKEN}x` });
    assert.equal(wrong.status, 401);
    // A user's access token is not the metrics token.
    const user = await running.devIssuer!.mint({ sub: 'ops', groups: ['agents'], ttlMs: 60_000 });
    assert.equal((await curl(`${apiUrl}/metrics`, { token: user })).status, 401);
    const ok = await curl(`${apiUrl}/metrics`, { token: METRICS_TOKEN });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^# HELP /m);
    assert.equal((await curl(`${apiUrl}/healthz`)).status, 200, 'healthz stays public');
  });

  it('publicUrl must be an http(s) origin; the metrics token at least 16 characters', () => {
    const base = 'identity: { dev: true }\n';
    for (const bad of [
      'https://w.example.com/warden',
      'ftp://w.example.com',
      'https://u:p@w.example.com',
      'not a url',
    ]) {
      assert.throws(() => parseConfig(`listen:\n  publicUrl: '${bad}'\n${base}`, { baseDir: dir }), /publicUrl/, bad);
    }
    assert.throws(() => parseConfig(`metrics: { token: short }\n${base}`, { baseDir: dir }), /metrics/);
    const { config } = parseConfig(`listen:\n  publicUrl: https://w.example.com/\n${base}`, { baseDir: dir });
    assert.equal(config.listen.publicUrl, 'https://w.example.com');
  });
});
