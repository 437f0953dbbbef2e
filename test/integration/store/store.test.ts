import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isWardenError } from '../../../src/core/errors.js';
import { type AccessRequest, openStore, type Review, type Store } from '../../../src/store/index.js';
import { BACKENDS, type StoreBackend } from './backends.js';

const T0 = Date.UTC(2026, 0, 1);
const ISS = 'https://idp.example';

function review(id: string, over: Partial<Review> = {}): Review {
  return {
    id,
    state: 'pending',
    requester: { issuer: ISS, sub: 'agent-1', groups: ['agents'] },
    connection: 'shop',
    kind: 'sql',
    text: 'DELETE FROM orders',
    normalized: 'DELETE FROM orders',
    opHash: 'h1',
    params: { statement: 1 },
    rules: ['unbounded-writes-need-review'],
    reasons: [{ code: 'rule-matched', rule: 'unbounded-writes-need-review', message: 'needs review' }],
    approversRequired: { groups: ['dba'], count: 1 },
    approvals: [],
    usesLeft: 1,
    createdAt: T0,
    decidedAt: null,
    expiresAt: T0 + 3_600_000,
    ...over,
  };
}

function accessRequest(id: string, over: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id,
    issuer: ISS,
    sub: 'alice',
    groups: ['oncall'],
    connection: 'shop',
    reason: 'incident 42',
    durationMs: 1_800_000,
    state: 'pending',
    approvals: [],
    approversRequired: { groups: ['dba'], count: 1 },
    createdAt: T0,
    decidedAt: null,
    expiresAt: T0 + 600_000,
    ...over,
  };
}

for (const backend of BACKENDS) {
  describe(`store on ${backend.name}`, () => {
    let b: StoreBackend;
    let store: Store;
    before(async () => {
      b = await backend.start();
      store = await b.open();
    });
    after(async () => {
      await store?.close();
      await b?.stop();
    });

    test('reports its dialect and migrates idempotently when reopened', async () => {
      assert.equal(store.dialect, backend.name);
      const url = await b.freshUrl();
      const first = await openStore(url);
      await first.createSession({
        id: 's_reopen',
        connection: 'c',
        connectionType: 'postgres',
        issuer: ISS,
        sub: 'x',
        groups: [],
        startedAt: T0,
        format: 'jsonl',
        recordingPath: '/r/s_reopen.jsonl',
      });
      await first.close();
      const second = await openStore(url);
      assert.equal((await second.getSession('s_reopen'))?.sub, 'x');
      await second.close();
    });

    test('sessions: create, count operations, end, list newest first, filter by sub', async () => {
      const base = {
        connection: 'shop',
        connectionType: 'postgres',
        issuer: ISS,
        groups: ['agents'],
        format: 'jsonl' as const,
      };
      await store.createSession({ ...base, id: 's_1', sub: 'a', startedAt: T0, recordingPath: '/r/s_1.jsonl' });
      await store.createSession({ ...base, id: 's_2', sub: 'b', startedAt: T0 + 1000, recordingPath: '/r/s_2.jsonl' });
      await store.createSession({ ...base, id: 's_3', sub: 'a', startedAt: T0 + 2000, recordingPath: '/r/s_3.jsonl' });
      await store.incrementOperations('s_1');
      await store.incrementOperations('s_1', 4);
      await store.endSession('s_1', { at: T0 + 5000, reason: 'client closed' });

      const s1 = await store.getSession('s_1');
      assert.deepEqual(s1, {
        ...base,
        id: 's_1',
        sub: 'a',
        groups: ['agents'],
        startedAt: T0,
        endedAt: T0 + 5000,
        recordingPath: '/r/s_1.jsonl',
        operations: 5,
        endReason: 'client closed',
      });
      assert.equal(await store.getSession('nope'), undefined);

      const all = await store.listSessions({ limit: 10 });
      assert.deepEqual(
        all.filter((s) => s.id.startsWith('s_') && s.id.length === 3).map((s) => s.id),
        ['s_3', 's_2', 's_1'],
      );
      assert.deepEqual(
        (await store.listSessions({ limit: 10, sub: 'a' })).map((s) => s.id),
        ['s_3', 's_1'],
      );
      assert.equal((await store.listSessions({ limit: 1 })).length, 1);

      await store.endSession('s_2', { at: T0 + 9000, operations: 7 });
      const s2 = await store.getSession('s_2');
      assert.equal(s2?.operations, 7);
      assert.equal(s2?.endReason, null);
      assert.equal(typeof s2?.endedAt, 'number');
    });

    test('reviews: round trip, compare-and-set decisions, approved lookup, single use', async () => {
      const r = review('r_1');
      await store.insertReview(r);
      assert.deepEqual(await store.getReview('r_1'), r);
      assert.deepEqual(
        (await store.listReviews({ state: 'pending' })).map((x) => x.id),
        ['r_1'],
      );

      const lookup = { issuer: ISS, sub: 'agent-1', connection: 'shop', opHash: 'h1', now: T0 + 10 };
      assert.equal(await store.findApprovedReview(lookup), undefined);

      const approvals = [{ issuer: ISS, sub: 'dba-1', at: T0 + 5, reason: 'ok' }];
      const approved = await store.updateReview(
        'r_1',
        { state: 'approved', approvals, decidedAt: T0 + 5 },
        { expectState: 'pending' },
      );
      assert.equal(approved?.state, 'approved');
      assert.deepEqual(approved?.approvals, approvals);
      // A second decider loses the race: the review is no longer pending.
      assert.equal(await store.updateReview('r_1', { state: 'denied' }, { expectState: 'pending' }), undefined);
      assert.equal((await store.getReview('r_1'))?.state, 'approved');

      assert.equal((await store.findApprovedReview(lookup))?.id, 'r_1');
      assert.equal(await store.findApprovedReview({ ...lookup, opHash: 'other' }), undefined);
      assert.equal(await store.findApprovedReview({ ...lookup, sub: 'someone-else' }), undefined);
      assert.equal(await store.findApprovedReview({ ...lookup, now: T0 + 3_600_000 }), undefined, 'expired');

      assert.equal(await store.consumeReviewUse('r_1', T0 + 20), true);
      assert.equal(await store.consumeReviewUse('r_1', T0 + 21), false, 'used up');
      const done = await store.getReview('r_1');
      assert.equal(done?.state, 'executed');
      assert.equal(done?.usesLeft, 0);
      assert.equal(await store.findApprovedReview(lookup), undefined);

      await store.insertReview(review('r_2', { state: 'approved', usesLeft: 2, createdAt: T0 + 1 }));
      assert.equal(await store.consumeReviewUse('r_2', T0 + 3_600_001), false, 'expired approval is not consumed');
      assert.equal(await store.consumeReviewUse('r_2', T0), true);
      assert.equal((await store.getReview('r_2'))?.state, 'approved');
      assert.deepEqual(
        (await store.listReviews()).map((x) => x.id),
        ['r_2', 'r_1'],
      );
      assert.deepEqual(
        (await store.listReviews({ state: 'executed' })).map((x) => x.id),
        ['r_1'],
      );
    });

    test('reviews: concurrent consumers take one use exactly once', async () => {
      await store.insertReview(review('r_race', { state: 'approved', opHash: 'race', usesLeft: 1 }));
      const results = await Promise.all(Array.from({ length: 10 }, () => store.consumeReviewUse('r_race', T0)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    test('access requests: round trip, approve, active grant lookup, revoke', async () => {
      const a = accessRequest('g_1');
      await store.insertAccessRequest(a);
      assert.deepEqual(await store.getAccessRequest('g_1'), a);
      const q = { issuer: ISS, sub: 'alice', connection: 'shop', now: T0 + 1000 };
      assert.equal(await store.findApprovedAccessRequest(q), undefined);

      const granted = await store.updateAccessRequest(
        'g_1',
        {
          state: 'approved',
          approvals: [{ issuer: ISS, sub: 'bob', at: T0 + 100 }],
          decidedAt: T0 + 100,
          expiresAt: T0 + 100 + a.durationMs,
        },
        { expectState: 'pending' },
      );
      assert.equal(granted?.state, 'approved');
      assert.equal((await store.findApprovedAccessRequest(q))?.id, 'g_1');
      assert.equal(await store.findApprovedAccessRequest({ ...q, now: T0 + 100 + a.durationMs }), undefined);
      assert.equal(await store.findApprovedAccessRequest({ ...q, connection: 'other' }), undefined);

      await store.insertAccessRequest(accessRequest('g_2', { sub: 'carol', createdAt: T0 + 1 }));
      assert.deepEqual(
        (await store.listAccessRequests({ state: 'pending' })).map((x) => x.id),
        ['g_2'],
      );
      assert.deepEqual(
        (await store.listAccessRequests({ sub: 'alice' })).map((x) => x.id),
        ['g_1'],
      );

      assert.equal(
        (await store.updateAccessRequest('g_1', { state: 'revoked' }, { expectState: 'approved' }))?.state,
        'revoked',
      );
      assert.equal(await store.findApprovedAccessRequest(q), undefined);
      assert.equal(await store.updateAccessRequest('missing', { state: 'denied' }), undefined);
    });

    test('revocations: by token id and by subject, with issuedAt', async () => {
      assert.equal(await store.isRevoked({ tokenId: 'jti-1', sub: 'mallory' }), false);
      await store.revoke({ kind: 'token', value: 'jti-1', at: T0, reason: 'leaked' });
      await store.revoke({ kind: 'token', value: 'jti-1', at: T0 + 5, reason: 'again' });
      assert.equal(await store.isRevoked({ tokenId: 'jti-1' }), true);
      assert.equal(await store.isRevoked({ tokenId: 'jti-2', sub: 'mallory' }), false);

      await store.revoke({ kind: 'sub', value: 'mallory', at: T0 + 1000, reason: 'offboarded' });
      assert.equal(await store.isRevoked({ tokenId: 'jti-2', sub: 'mallory' }), true);
      assert.equal(
        await store.isRevoked({ sub: 'mallory', issuedAt: T0 + 999 }),
        true,
        'token issued before revocation',
      );
      assert.equal(
        await store.isRevoked({ sub: 'mallory', issuedAt: T0 + 1001 }),
        false,
        'fresh token after revocation',
      );
      assert.equal(await store.isRevoked({ sub: 'jti-1' }), false, 'kinds do not mix');

      const list = await store.listRevocations();
      assert.deepEqual(list, [
        { kind: 'sub', value: 'mallory', at: T0 + 1000, reason: 'offboarded' },
        { kind: 'token', value: 'jti-1', at: T0, reason: 'leaked' },
      ]);
      await assert.rejects(store.isRevoked({}), TypeError);
    });

    test('exclusive() serializes writers and rolls back on error', async () => {
      let inside = 0;
      let maxInside = 0;
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          store.exclusive('test', async (db) => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            await new Promise((r) => setTimeout(r, 5));
            await db
              .insertInto('revocations')
              .values({ kind: 'token', value: `ex-${i}`, at: T0, reason: 'x' })
              .execute();
            inside--;
          }),
        ),
      );
      assert.equal(maxInside, 1);
      await assert.rejects(
        store.exclusive('test', async (db) => {
          await db
            .insertInto('revocations')
            .values({ kind: 'token', value: 'ex-rolled-back', at: T0, reason: 'x' })
            .execute();
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.isRevoked({ tokenId: 'ex-rolled-back' }), false);
      assert.equal(await store.isRevoked({ tokenId: 'ex-4' }), true);
    });
  });
}

test('openStore rejects an unknown URL scheme with a config error', async () => {
  await assert.rejects(openStore('mysql://x'), (e) => isWardenError(e, 'WARDEN_CONFIG_INVALID'));
});

test('openStore names an unreachable PostgreSQL without its password', async () => {
  await assert.rejects(openStore('postgres://u:hunter2@127.0.0.1:1/db'), (e) => {
    assert.ok(isWardenError(e, 'WARDEN_CONFIG_INVALID'));
    assert.ok(!(e as Error).message.includes('hunter2'));
    assert.match((e as Error).message, /u:\*\*\*@127\.0\.0\.1:1/);
    return true;
  });
});
