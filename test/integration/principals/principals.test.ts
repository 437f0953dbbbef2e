// A principal is (issuer, sub): with the dev issuer (A) and a real oidc-provider (B) trusted at
// once, the same `sub` at A and at B is two callers for JIT grants, sessions, recordings, reviews
// and access requests; N-of-M counts distinct principals; decisions on what the caller cannot
// see answer 404. Real gateway, real PostgreSQL, node-postgres and REST over fetch.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, connect, connectError, reviewIdOf, startTwoIssuers, type TwoIssuers } from './support.js';

describe('principal = (issuer, sub) across two trusted issuers', () => {
  let t: TwoIssuers;
  let admin: string;

  before(async () => {
    t = await startTwoIssuers();
    admin = await t.tokenA('root-admin', ['admins']);
  });
  after(async () => {
    await t?.stop();
  });

  it('a JIT grant approved for oc-1@B does not let oc-1@A connect, see, or revoke it', async () => {
    const ocB = await t.tokenB('oc-1', ['oncall']);
    const ocA = await t.tokenA('oc-1', ['oncall']);
    const dba = await t.tokenA('dba-jit', ['dba']);

    // Neither can connect before a grant.
    assert.equal((await connectError(t.gw, ocB)).code, '28000');
    assert.equal((await connectError(t.gw, ocA)).code, '28000');

    const created = await api(t.gw, ocB, 'POST', '/access-requests', {
      connection: 'shop',
      duration: '30m',
      reason: 'incident 9',
    });
    assert.equal(created.status, 201, created.text);
    const id = created.json.request.id as string;
    assert.equal(created.json.request.issuer, t.issuerB);
    assert.equal(created.json.request.sub, 'oc-1');

    // Same sub, other issuer: the request does not exist for oc-1@A, whatever it tries.
    assert.equal((await api(t.gw, ocA, 'GET', `/access-requests/${id}`)).status, 404);
    const listedA = await api(t.gw, ocA, 'GET', '/access-requests?state=all');
    assert.equal(listedA.status, 200);
    assert.ok(!listedA.json.requests.some((r: { id: string }) => r.id === id), 'absent from oc-1@A’s list');
    for (const action of ['approve', 'deny', 'revoke']) {
      const r = await api(t.gw, ocA, 'POST', `/access-requests/${id}/${action}`, {});
      assert.equal(r.status, 404, `${action}: ${r.text}`);
      assert.equal(r.json.code, 'WARDEN_REVIEW_NOT_FOUND');
      // The request's own id (random hex, which can hold "dba") is taken out before looking.
      assert.doesNotMatch(
        r.text.replaceAll(id, ''),
        /pending|dba/,
        'neither its state nor its approver groups are disclosed',
      );
    }

    const approved = await api(t.gw, dba, 'POST', `/access-requests/${id}/approve`, { reason: 'ok' });
    assert.equal(approved.status, 200, approved.text);
    assert.equal(approved.json.request.state, 'approved');
    assert.deepEqual(
      approved.json.request.approvals.map((a: { issuer: string; sub: string }) => [a.issuer, a.sub]),
      [[t.issuerA, 'dba-jit']],
    );

    // oc-1@B connects; oc-1@A (same groups, same sub) still has no grant.
    const c = await connect(t.gw, ocB);
    try {
      assert.equal((await c.query('SELECT 1 AS n')).rows[0].n, 1);
    } finally {
      await c.end();
    }
    const refused = await connectError(t.gw, ocA);
    assert.equal(refused.code, '28000');
    assert.equal(refused.severity, 'FATAL');
    // …and a fresh oc-1@A token requesting its own access gets a request of its own.
    const own = await api(t.gw, ocA, 'POST', '/access-requests', {
      connection: 'shop',
      duration: '10m',
      reason: 'mine',
    });
    assert.equal(own.status, 201);
    assert.notEqual(own.json.request.id, id);
    assert.equal(own.json.request.issuer, t.issuerA);
    assert.equal((await api(t.gw, ocB, 'GET', `/access-requests/${own.json.request.id}`)).status, 404);

    // The grantee itself may give the grant up.
    const revoked = await api(t.gw, ocB, 'POST', `/access-requests/${id}/revoke`, { reason: 'done' });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal((await connectError(t.gw, ocB)).code, '28000');
  });

  it('sessions and recordings are invisible to the same sub of another issuer', async () => {
    const agentA = await t.tokenA('agent-s', ['agents']);
    const agentB = await t.tokenB('agent-s', ['agents']);
    const c = await connect(t.gw, agentA);
    try {
      await c.query("SELECT 'principal-marker' AS m");
    } finally {
      await c.end();
    }

    const mine = await api(t.gw, agentA, 'GET', '/sessions');
    assert.equal(mine.status, 200);
    const session = mine.json.sessions.find((s: { sub: string; issuer: string }) => s.sub === 'agent-s');
    assert.ok(session, 'agent-s@A sees its session');
    assert.equal(session.issuer, t.issuerA);
    assert.ok(
      mine.json.sessions.every((s: { issuer: string; sub: string }) => s.issuer === t.issuerA && s.sub === 'agent-s'),
    );

    const theirs = await api(t.gw, agentB, 'GET', '/sessions');
    assert.equal(theirs.status, 200);
    assert.deepEqual(theirs.json.sessions, [], 'agent-s@B has no sessions');
    assert.equal((await api(t.gw, agentB, 'GET', `/sessions/${session.id}`)).status, 404);
    const rec = await api(t.gw, agentB, 'GET', `/sessions/${session.id}/recording`);
    assert.equal(rec.status, 404);
    assert.doesNotMatch(rec.text, /principal-marker/);

    // The owner and an admin read it; the recording names the issuer too.
    assert.equal((await api(t.gw, agentA, 'GET', `/sessions/${session.id}`)).status, 200);
    const own = await api(t.gw, agentA, 'GET', `/sessions/${session.id}/recording`);
    assert.equal(own.status, 200);
    assert.match(own.text, /principal-marker/);
    const all = await api(t.gw, admin, 'GET', '/sessions?limit=1000');
    assert.ok(
      all.json.sessions.some((s: { id: string }) => s.id === session.id),
      'admins see every session',
    );
    const file = await readFile(join(t.gw.dir, 'recordings', `${session.id}.jsonl`), 'utf8');
    const start = JSON.parse(file.split('\n')[0] as string);
    assert.equal(start.type, 'session.start');
    assert.equal(start.issuer, t.issuerA);
    assert.equal(start.sub, 'agent-s');
  });

  it('reviews: invisible to the same sub of another issuer; approve/deny on an invisible review → 404', async () => {
    const agentA = await t.tokenA('agent-r', ['agents']);
    const agentB = await t.tokenB('agent-r', ['agents']);
    const c = await connect(t.gw, agentA);
    let id: string;
    try {
      id = await reviewIdOf(c, 'UPDATE orders SET status = status');
    } finally {
      await c.end();
    }

    const own = await api(t.gw, agentA, 'GET', `/reviews/${id}`);
    assert.equal(own.status, 200);
    assert.deepEqual([own.json.review.requester.issuer, own.json.review.requester.sub], [t.issuerA, 'agent-r']);
    // The requester itself may see it but not approve it: 403 with the reason.
    const self = await api(t.gw, agentA, 'POST', `/reviews/${id}/approve`, {});
    assert.equal(self.status, 403);
    assert.equal(self.json.reason, 'self-approval');

    assert.equal((await api(t.gw, agentB, 'GET', `/reviews/${id}`)).status, 404);
    const listed = await api(t.gw, agentB, 'GET', '/reviews?state=all');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.reviews, [], 'agent-r@B sees no reviews');
    for (const action of ['approve', 'deny']) {
      const r = await api(t.gw, agentB, 'POST', `/reviews/${id}/${action}`, { reason: 'mine' });
      assert.equal(r.status, 404, `${action}: ${r.text}`);
      assert.equal(r.json.code, 'WARDEN_REVIEW_NOT_FOUND');
      // The review's own id (random hex, which can hold "dba") is taken out before looking.
      assert.doesNotMatch(
        r.text.replaceAll(id, ''),
        /pending|dba|approver/,
        'neither its state nor its approver groups are disclosed',
      );
    }
    // Any other outsider, too; the review is untouched.
    const sales = await t.tokenA('sales-1', ['sales']);
    assert.equal((await api(t.gw, sales, 'POST', `/reviews/${id}/approve`, {})).status, 404);
    assert.equal((await api(t.gw, sales, 'POST', `/reviews/${id}/deny`, {})).status, 404);
    assert.equal((await api(t.gw, admin, 'GET', `/reviews/${id}`)).json.review.state, 'pending');
  });

  it('N-of-M: dba-1@A and dba-1@B are two approvers; dba-1@A twice is one', async () => {
    const agentA = await t.tokenA('agent-n', ['agents']);
    const dbaA = await t.tokenA('dba-1', ['dba']);
    const dbaB = await t.tokenB('dba-1', ['dba']);
    const c = await connect(t.gw, agentA);
    try {
      const id = await reviewIdOf(c, 'UPDATE orders SET amount = amount');

      const first = await api(t.gw, dbaA, 'POST', `/reviews/${id}/approve`, { reason: 'one' });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.review.state, 'pending');
      const again = await api(t.gw, await t.tokenA('dba-1', ['dba']), 'POST', `/reviews/${id}/approve`, {});
      assert.equal(again.status, 403, 'a fresh token of the same principal is still the same approver');
      assert.equal(again.json.reason, 'already-approved');
      assert.equal((await api(t.gw, admin, 'GET', `/reviews/${id}`)).json.review.approvals.length, 1);
      await assert.rejects(
        c.query('UPDATE orders SET amount = amount'),
        (e: Error & { code?: string }) => e.code === '42501',
      );

      const second = await api(t.gw, dbaB, 'POST', `/reviews/${id}/approve`, { reason: 'two' });
      assert.equal(second.status, 200, second.text);
      assert.equal(second.json.review.state, 'approved');
      assert.deepEqual(
        second.json.review.approvals.map((a: { issuer: string; sub: string }) => [a.issuer, a.sub]),
        [
          [t.issuerA, 'dba-1'],
          [t.issuerB, 'dba-1'],
        ],
      );
      // The approved statement runs once for its requester.
      const ran = await c.query('UPDATE orders SET amount = amount');
      assert.ok((ran.rowCount ?? 0) > 0);
    } finally {
      await c.end();
    }

    // The audit names each approver's issuer next to the sub (actor), and the chain verifies.
    const audit = await api(t.gw, admin, 'GET', '/audit?limit=10000');
    assert.equal(audit.status, 200, audit.text);
    const approvals = audit.json.entries.filter(
      (r: { type: string }) => r.type === 'review.approval' || r.type === 'review.approved',
    );
    const byActor = approvals
      .filter((r: { actor: string }) => r.actor === 'dba-1')
      .map((r: { data: { issuer: string } }) => r.data.issuer)
      .sort();
    assert.deepEqual(byActor, [t.issuerA, t.issuerB].sort());
    const verified = await api(t.gw, admin, 'GET', '/audit/verify');
    assert.equal(verified.json.ok, true, verified.text);
  });
});
