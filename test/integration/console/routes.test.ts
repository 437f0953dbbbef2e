// The console's own HTTP surface: static files under a strict CSP, only the named files, the
// demo's dev sign-in (names checked; tokens verified like any other), and nothing of it when the
// dev issuer is off.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shopGatewaySuite } from '../../helpers/gateway.js';

describe('console routes', () => {
  const suite = shopGatewaySuite();

  it('serves the page with a CSP that allows only its own scripts and the import map', async () => {
    const res = await fetch(`${suite.gw.apiUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    // WebAssembly (asciinema-player's terminal) may compile; script text may not be eval'ed.
    assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+' 'wasm-unsafe-eval';/);
    assert.doesNotMatch(csp, /unsafe-inline|'unsafe-eval'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(await res.text(), /<script type="module" src="\/console\/app.js">/);
    for (const f of ['app.js', 'vendor/preact.js', 'vendor/hooks.js', 'vendor/htm.js', 'vendor/asciinema/index.js']) {
      const r = await fetch(`${suite.gw.apiUrl}/console/${f}`);
      assert.equal(r.status, 200, f);
      assert.match(r.headers.get('content-type')!, /^text\/javascript/, f);
    }
    // asciinema-player's entry imports its chunks by relative name: each is served beside it.
    const entry = await (await fetch(`${suite.gw.apiUrl}/console/vendor/asciinema/index.js`)).text();
    const chunks = [...entry.matchAll(/from '\.\/([^']+)'/g)].map((m) => m[1]!);
    assert.ok(chunks.length > 0);
    for (const c of chunks)
      assert.equal((await fetch(`${suite.gw.apiUrl}/console/vendor/asciinema/${c}`)).status, 200, c);
    const css = await fetch(`${suite.gw.apiUrl}/console/vendor/asciinema-player.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type')!, /^text\/css/);
  });

  it('serves nothing else: no traversal, no other files', async () => {
    for (const p of [
      '/console/..%2f..%2fpackage.json',
      '/console/%2e%2e%2fwarden.yaml',
      '/console/vendor/..%2f..%2fpackage.json',
      '/console/vendor/preact',
      '/console/vendor/asciinema/..%2f..%2fpackage.json',
      '/console/vendor/asciinema/package.json',
      '/console/vendor/asciinema/bundle',
      '/console/vendor/asciinema/index.d.ts',
      '/console/index.js',
      '/console/../package.json',
    ]) {
      const r = await fetch(`${suite.gw.apiUrl}${p}`);
      assert.equal(r.status, 404, p);
      assert.doesNotMatch(await r.text(), /"dependencies"|TEST_SHOP_PASSWORD/, p);
    }
  });

  it('dev sign-in mints a verified token for a valid name; bad names and groups are refused', async () => {
    const cfg = await (await fetch(`${suite.gw.apiUrl}/console/config.json`)).json();
    assert.deepEqual(cfg, { dev: true });
    const post = (body: unknown) =>
      fetch(`${suite.gw.apiUrl}/console/dev-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const ok = await post({ sub: 'dana', groups: ['dba'] });
    assert.equal(ok.status, 200);
    const { token } = (await ok.json()) as { token: string };
    const me = await fetch(`${suite.gw.apiUrl}/api/v1/connections`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(me.status, 200, 'the minted token is accepted by the API');
    for (const bad of [
      { sub: '', groups: [] },
      { sub: 'a b', groups: [] },
      { sub: 'x'.repeat(65), groups: [] },
      { sub: 'ok', groups: ['<script>'] },
      { sub: 'ok', groups: [1] },
      { sub: ['dana'], groups: [] },
    ]) {
      const r = await post(bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(((await r.json()) as { token?: string }).token, undefined);
    }
  });
});
