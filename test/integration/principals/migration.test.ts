// Migration 0003 over rows written before issuers were recorded, on SQLite and on a real
// PostgreSQL: the rows survive with issuer '' (unknown), which no principal matches; then a real
// gateway over such a store (two issuers) shows them to admins only, refuses the old JIT grant,
// and lets an old approval count against every issuer's same sub (fail closed).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../../src/store/index.js';
import { BACKENDS } from '../store/backends.js';
import { LEGACY, writeLegacyStore } from './legacy.js';
import { api, connectError, startTwoIssuers, type TwoIssuers } from './support.js';

const ISS = 'https://idp.example';

for (const backend of BACKENDS) {
  describe(`migration 0003 on ${backend.name}`, () => {
    let b: Awaited<ReturnType<typeof backend.start>>;
    before(async () => {
      b = await backend.start();
    });
    after(async () => {
      await b?.stop();
    });

    it('keeps old rows with issuer "" and never matches them to a principal', async () => {
      const url = await b.freshUrl();
      const now = Date.now();
      await writeLegacyStore(url, now);
      const store = await openStore(url);
      try {
        const s = await store.getSession(LEGACY.session);
        assert.equal(s?.issuer, '');
        assert.equal(s?.sub, 'agent-old');
        assert.equal(s?.operations, 3);
        assert.deepEqual(await store.listSessions({ issuer: ISS, sub: 'agent-old' }), []);
        assert.equal(
          (await store.listSessions({ sub: 'agent-old' })).length,
          1,
          'an admin filter by sub still finds it',
        );

        const r = await store.getReview(LEGACY.halfApproved);
        assert.equal(r?.requester.issuer, '');
        assert.deepEqual(r?.approvals, [{ issuer: '', sub: 'dba-1', at: now - 500 }]);
        assert.deepEqual(await store.listReviews({ issuer: ISS, sub: 'agent-old' }), []);

        const g = await store.getAccessRequest(LEGACY.grant);
        assert.equal(g?.issuer, '');
        assert.equal(g?.state, 'approved');
        const lookup = { sub: 'oc-old', connection: 'shop', now };
        assert.equal(await store.findApprovedAccessRequest({ ...lookup, issuer: ISS }), undefined);
        assert.equal(await store.findApprovedAccessRequest({ ...lookup, issuer: '' }), undefined, 'unknown is nobody');

        // New rows next to them carry their issuer and are found by it.
        await store.createSession({
          id: 's_new0000000000001',
          connection: 'shop',
          connectionType: 'postgres',
          issuer: ISS,
          sub: 'agent-old',
          groups: ['agents'],
          startedAt: now,
          format: 'jsonl',
          recordingPath: '/r/s_new.jsonl',
        });
        assert.deepEqual(
          (await store.listSessions({ issuer: ISS, sub: 'agent-old' })).map((x) => x.id),
          ['s_new0000000000001'],
        );
      } finally {
        await store.close();
      }
    });
  });
}

describe('a gateway over a store with pre-0003 rows (two issuers)', () => {
  let dir: string;
  let t: TwoIssuers;
  let admin: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warden-legacy-'));
    const store = `sqlite:${join(dir, 'legacy.db')}`;
    await writeLegacyStore(store);
    t = await startTwoIssuers({ store });
    admin = await t.tokenA('root-admin', ['admins']);
  });
  after(async () => {
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('old sessions and reviews are visible to admins only', async () => {
    for (const token of [await t.tokenA('agent-old', ['agents']), await t.tokenB('agent-old', ['agents'])]) {
      assert.equal((await api(t.gw, token, 'GET', `/sessions/${LEGACY.session}`)).status, 404);
      assert.equal((await api(t.gw, token, 'GET', `/sessions/${LEGACY.session}/recording`)).status, 404);
      assert.deepEqual((await api(t.gw, token, 'GET', '/sessions')).json.sessions, []);
      assert.equal((await api(t.gw, token, 'GET', `/reviews/${LEGACY.review}`)).status, 404);
      assert.deepEqual((await api(t.gw, token, 'GET', '/reviews?state=all')).json.reviews, []);
    }
    const s = await api(t.gw, admin, 'GET', `/sessions/${LEGACY.session}`);
    assert.equal(s.status, 200);
    assert.equal(s.json.session.issuer, '');
    assert.equal(s.json.session.sub, 'agent-old');
    assert.doesNotMatch(s.text, /\/var\/lib/, 'no server path');
    const r = await api(t.gw, admin, 'GET', `/reviews/${LEGACY.review}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.review.requester.issuer, '');
  });

  it('an old JIT grant lets no one connect; its grantee cannot see it', async () => {
    for (const token of [await t.tokenA('oc-old', ['oncall']), await t.tokenB('oc-old', ['oncall'])]) {
      assert.equal((await connectError(t.gw, token)).code, '28000');
      assert.equal((await api(t.gw, token, 'GET', `/access-requests/${LEGACY.grant}`)).status, 404);
    }
    assert.equal((await api(t.gw, admin, 'GET', `/access-requests/${LEGACY.grant}`)).json.request.state, 'approved');
  });

  it('an old approval and an old requester count against every issuer’s same sub', async () => {
    for (const token of [await t.tokenA('dba-1', ['dba']), await t.tokenB('dba-1', ['dba'])]) {
      const r = await api(t.gw, token, 'POST', `/reviews/${LEGACY.halfApproved}/approve`, {});
      assert.equal(r.status, 403, r.text);
      assert.equal(r.json.reason, 'already-approved');
    }
    const self = await api(
      t.gw,
      await t.tokenB('dba-req', ['dba']),
      'POST',
      `/reviews/${LEGACY.halfApproved}/approve`,
      {},
    );
    assert.equal(self.status, 403);
    assert.equal(self.json.reason, 'self-approval');
    const second = await api(
      t.gw,
      await t.tokenA('dba-2', ['dba']),
      'POST',
      `/reviews/${LEGACY.halfApproved}/approve`,
      {},
    );
    assert.equal(second.status, 200, second.text);
    assert.equal(second.json.review.state, 'approved');
    assert.deepEqual(
      second.json.review.approvals.map((a: { issuer: string; sub: string }) => [a.issuer, a.sub]),
      [
        ['', 'dba-1'],
        [t.issuerA, 'dba-2'],
      ],
    );
  });
});
