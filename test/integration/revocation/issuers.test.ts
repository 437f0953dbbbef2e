// A principal is (issuer, sub): two gateways sharing one SQLite store, each trusting a real OIDC
// provider and its own dev issuer. A subject revocation names its issuer (required with several),
// cuts that issuer's subject on the other instance within the refresh interval, and leaves the
// same `sub` from another issuer working. Legacy revocations (no issuer) cover every issuer.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Identity } from '../../../src/core/types.js';
import { RevocationCache } from '../../../src/gateway/revocations.js';
import { openStore } from '../../../src/store/index.js';
import { runWarden } from '../../helpers/cli.js';
import { startShopPostgres } from '../../helpers/gateway.js';
import { type OidcTestProvider, startOidcProvider } from '../../helpers/oidc.js';
import type { TestPostgres } from '../../helpers/postgres.js';
import { api, type RevocationGateway, startRevocationGateway } from './support.js';

type PgError = Error & { code?: string };

async function session(url: string): Promise<{ client: pg.Client; ended: Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  const ended = new Promise<void>((resolve) => client.once('end', resolve));
  await client.connect();
  return { client, ended };
}

describe('revocation across issuers and gateway instances', () => {
  let target: TestPostgres;
  let oidc: OidcTestProvider;
  let dir: string;
  let a: RevocationGateway;
  let b: RevocationGateway;
  let adminA: string;

  before(async () => {
    target = await startShopPostgres();
    oidc = await startOidcProvider();
    dir = await mkdtemp(join(tmpdir(), 'warden-revoke-shared-'));
    const store = `sqlite:${join(dir, 'shared.db')}`;
    a = await startRevocationGateway(target, { issuers: [oidc.issuer], store });
    b = await startRevocationGateway(target, { issuers: [oidc.issuer], store });
    adminA = await a.devToken('admin-a', ['admins']);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await oidc?.stop();
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('with several issuers a subject revocation needs --issuer (exit 2, 400), naming the configured ones', async () => {
    const r = await runWarden(['revoke', '--sub', 'shared-agent', '--gateway', a.apiUrl, '--token', adminA]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /name one with --issuer/);
    assert.ok(r.stderr.includes(oidc.issuer), r.stderr);
    const res = await api(a.apiUrl, adminA, 'POST', '/api/v1/revocations', { sub: 'shared-agent' });
    assert.equal(res.status, 400);
    assert.equal(res.json.code, 'WARDEN_USAGE');
  });

  it('revoking (oidc issuer, sub) on gateway A cuts that principal on gateway B; the same sub of the dev issuer keeps working', async () => {
    const oidcToken = await oidc.getToken({ sub: 'shared-agent', groups: ['agents'] });
    const onB = await session(b.url(oidcToken));
    const devSameSub = await session(b.url(await b.devToken('shared-agent', ['agents'])));
    try {
      assert.equal((await onB.client.query('SELECT 1 AS n')).rows[0].n, 1);
      assert.equal((await devSameSub.client.query('SELECT 1 AS n')).rows[0].n, 1);

      // The issuer given in another spelling (trailing slash, capitals) resolves to the configured one.
      const spelled = `${oidc.issuer.toUpperCase().replace('HTTP://', 'http://')}/`;
      const r = await runWarden([
        'revoke',
        '--sub',
        'shared-agent',
        '--issuer',
        spelled,
        '--gateway',
        a.apiUrl,
        '--token',
        adminA,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes(`(issuer ${oidc.issuer})`), r.stdout);

      // B learns it from the shared store within its refresh interval (2 s).
      const started = Date.now();
      let cut: PgError | null = null;
      while (Date.now() - started < 6000) {
        try {
          await onB.client.query('SELECT 2');
          await new Promise((res) => setTimeout(res, 200));
        } catch (err) {
          cut = err as PgError;
          break;
        }
      }
      assert.ok(cut, 'the session on B was cut');
      assert.equal(cut.code, '28000');
      await onB.ended;
      assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
      assert.equal(
        (await devSameSub.client.query('SELECT 3 AS n')).rows[0].n,
        3,
        'another issuer’s same sub is another principal',
      );
      // A fresh token from the oidc issuer is refused on both gateways.
      const fresh = await oidc.getToken({ sub: 'shared-agent', groups: ['agents'] });
      for (const gw of [a, b]) {
        const c = new pg.Client({ connectionString: gw.url(fresh) });
        c.on('error', () => {});
        await assert.rejects(c.connect(), (err: PgError) => err.code === '28000');
        await c.end().catch(() => {});
      }
    } finally {
      await onB.client.end().catch(() => {});
      await devSameSub.client.end().catch(() => {});
    }
  });

  it('the cache: (issuer, sub) pairs, issuer spellings, legacy "any issuer" rows, local add() survives a refresh', async () => {
    const store = await openStore(`sqlite:${join(dir, 'cache.db')}`);
    try {
      const cache = new RevocationCache(store, 60_000);
      await cache.start();
      const id = (issuer: string, sub: string, tokenId?: string): Identity => ({
        issuer,
        sub,
        groups: [],
        claims: {},
        expiresAt: Date.now() + 60_000,
        ...(tokenId ? { tokenId } : {}),
      });
      const A = 'https://a.example/';
      const B = 'https://b.example';
      cache.add({ sub: 'alice', issuer: A });
      assert.equal(cache.isRevoked(id('https://A.example', 'alice')), true, 'issuer compared normalized');
      assert.equal(cache.isRevoked(id(B, 'alice')), false);
      assert.equal(cache.isRevoked(id(A, 'Alice')), false, 'sub compares exactly');
      // add() during a refresh that read the store before the write: kept, not lost.
      const refreshing = cache.refresh();
      cache.add({ sub: 'carol', issuer: B });
      await refreshing;
      assert.equal(cache.isRevoked(id(B, 'carol')), true);
      assert.equal(
        cache.isRevoked(id(A, 'alice')),
        false,
        'add() alone is local: the next full refresh follows the store',
      );

      await store.revoke({ kind: 'token', value: 'jti-1', issuer: B, at: 1, reason: '' });
      await store.revoke({ kind: 'sub', value: 'legacy', at: 1, reason: 'before issuers' });
      await store.revoke({ kind: 'token', value: 'jti-any', at: 1, reason: '' });
      await cache.refresh();
      assert.equal(cache.isRevoked(id(B, 'x', 'jti-1')), true);
      assert.equal(cache.isRevoked(id(A, 'x', 'jti-1')), false, 'a token id is per issuer');
      assert.equal(cache.isRevoked(id(A, 'legacy')), true, 'a revocation without issuer covers any issuer');
      assert.equal(cache.isRevoked(id(B, 'legacy')), true);
      assert.equal(cache.isRevoked(id(A, 'y', 'jti-any')), true);
      assert.equal(await store.isRevoked({ sub: 'legacy', issuer: A }), true);
      assert.equal(await store.isRevoked({ tokenId: 'jti-1', issuer: A }), false);
      assert.equal(await store.isRevoked({ tokenId: 'jti-1', issuer: B }), true);
      // Same subject revoked for two issuers: two rows (the key includes the issuer).
      await store.revoke({ kind: 'sub', value: 'bob', issuer: A, at: 2, reason: '' });
      await store.revoke({ kind: 'sub', value: 'bob', issuer: B, at: 3, reason: '' });
      const bobs = (await store.listRevocations()).filter((r) => r.value === 'bob');
      assert.deepEqual(bobs.map((r) => r.issuer).sort(), [A, B].sort());
      cache.stop();
    } finally {
      await store.close();
    }
  });
});
