// Deciding what is already decided, over real HTTP and the real CLI: approving or denying a review
// or access request that left `pending` (approved, denied, expired, executed, revoked) answers
// 409 WARDEN_ALREADY_DECIDED naming the state, changes nothing, audits nothing; `warden reviews
// approve` / `warden access approve` print "already decided (STATE)" and exit 1. Someone who
// cannot see the item still gets 404, so the 409 never discloses a state.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { reviewDecision, sqlOp } from './fixture.js';
import { type RestGateway, restGateway } from './rest-fixture.js';

describe('409 already-decided', () => {
  let rest: RestGateway;
  const people: Record<string, string[]> = {
    agent: ['agents'],
    dana: ['dba'],
    dmitri: ['dba'],
    olivia: ['oncall'],
    sales: ['sales'],
    ada: ['admins'],
  };
  const call: RestGateway['call'] = (...args) => rest.call(...args);
  const auditCount = async () => {
    await rest.gw.gateway.audit.flush();
    return (await rest.gw.gateway.audit.list({ limit: 100_000 })).length;
  };

  /** Every way of deciding it again is 409 with this state, and nothing changes. */
  async function assertDecided(path: string, key: 'review' | 'request', state: string, deciders: string[]) {
    const before = (await call('ada', 'GET', path)).body[key];
    assert.equal(before.state, state);
    const audited = await auditCount();
    for (const as of deciders) {
      for (const verb of ['approve', 'deny']) {
        const r = await call(as, 'POST', `${path}/${verb}`, { reason: 'late' });
        assert.equal(r.status, 409, `${as} ${verb} ${path} (${state}): ${JSON.stringify(r.body)}`);
        assert.match(r.type ?? '', /^application\/problem\+json/);
        assert.equal(r.body.status, 409);
        assert.equal(r.body.title, 'Conflict');
        assert.equal(r.body.code, 'WARDEN_ALREADY_DECIDED');
        assert.equal(r.body.reason, 'already-decided');
        assert.equal(r.body.state, state);
        assert.match(r.body.detail, new RegExp(`already decided \\(${state}\\)`));
      }
    }
    assert.deepEqual((await call('ada', 'GET', path)).body[key], before, 'a late decision changes nothing');
    assert.equal(await auditCount(), audited, 'a refused late decision writes no audit entry');
    // Someone who cannot see it learns nothing, not even that it is decided.
    const hidden = await call('sales', 'POST', `${path}/approve`, {});
    assert.equal(hidden.status, 404);
    assert.doesNotMatch(JSON.stringify(hidden.body), new RegExp(state));
  }

  before(async () => {
    rest = await restGateway(people);
  });
  after(async () => {
    await rest?.close();
  });

  const newReview = async (text: string) =>
    (await rest.gw.gateway.approvals.createReview(sqlOp(rest.identity('agent'), text), reviewDecision())).id;
  const newRequest = async () => {
    const r = await call('olivia', 'POST', '/access-requests', { connection: 'shop', duration: '30m', reason: 'x' });
    assert.equal(r.status, 201);
    return r.body.request.id as string;
  };

  test('reviews: approved, denied, executed, expired → 409 for approvers and the requester alike', async () => {
    const approved = await newReview('DELETE FROM a');
    assert.equal((await call('dana', 'POST', `/reviews/${approved}/approve`, {})).status, 200);
    await assertDecided(`/reviews/${approved}`, 'review', 'approved', ['dana', 'dmitri', 'agent', 'ada']);

    const denied = await newReview('DELETE FROM b');
    assert.equal((await call('dmitri', 'POST', `/reviews/${denied}/deny`, {})).status, 200);
    await assertDecided(`/reviews/${denied}`, 'review', 'denied', ['dana', 'dmitri']);

    const op = sqlOp(rest.identity('agent'), 'DELETE FROM c');
    const executed = (await rest.gw.gateway.approvals.createReview(op, reviewDecision())).id;
    assert.equal((await call('dana', 'POST', `/reviews/${executed}/approve`, {})).status, 200);
    assert.equal(await rest.gw.gateway.approvals.consumeApproval(op), executed);
    await assertDecided(`/reviews/${executed}`, 'review', 'executed', ['dmitri']);

    // A pending review past its time: the late approval expires it on the way and is told so.
    const lapsed = await newReview('DELETE FROM d');
    await rest.gw.gateway.store.updateReview(lapsed, { expiresAt: Date.now() - 1 });
    const late = await call('dana', 'POST', `/reviews/${lapsed}/approve`, {});
    assert.equal(late.status, 409);
    assert.equal(late.body.state, 'expired');
    await assertDecided(`/reviews/${lapsed}`, 'review', 'expired', ['dana', 'dmitri']);
  });

  test('access requests: approved, denied, revoked, expired → 409; revoking a revoked grant stays 403', async () => {
    const approved = await newRequest();
    assert.equal((await call('dana', 'POST', `/access-requests/${approved}/approve`, {})).status, 200);
    await assertDecided(`/access-requests/${approved}`, 'request', 'approved', ['dana', 'dmitri', 'olivia']);

    const denied = await newRequest();
    assert.equal((await call('dana', 'POST', `/access-requests/${denied}/deny`, {})).status, 200);
    await assertDecided(`/access-requests/${denied}`, 'request', 'denied', ['dmitri']);

    assert.equal((await call('ada', 'POST', `/access-requests/${approved}/revoke`, {})).status, 200);
    await assertDecided(`/access-requests/${approved}`, 'request', 'revoked', ['dana', 'dmitri']);
    const again = await call('ada', 'POST', `/access-requests/${approved}/revoke`, {});
    assert.equal(again.status, 403, 'revoking is not deciding: a grant that is not active is refused as before');
    assert.equal(again.body.reason, 'not-approved');

    const lapsed = await newRequest();
    await rest.gw.gateway.store.updateAccessRequest(lapsed, { expiresAt: Date.now() - 1 });
    const late = await call('dana', 'POST', `/access-requests/${lapsed}/approve`, {});
    assert.equal(late.status, 409, 'a lapsed request is expired on the way, never granted');
    assert.equal(late.body.state, 'expired');
    await assertDecided(`/access-requests/${lapsed}`, 'request', 'expired', ['dana']);
    assert.deepEqual(
      rest.gw.gateway.approvals.activeGrants(rest.identity('olivia')),
      [],
      'no decided request grants anything',
    );
  });

  test('CLI: warden reviews approve / warden access approve print "already decided (STATE)" and exit 1', async () => {
    const review = await newReview('DELETE FROM e');
    assert.equal((await call('dana', 'POST', `/reviews/${review}/deny`, {})).status, 200);
    const request = await newRequest();
    assert.equal((await call('dana', 'POST', `/access-requests/${request}/approve`, {})).status, 200);
    const runs = [
      { args: ['reviews', 'approve', review], state: 'denied' },
      { args: ['reviews', 'deny', review], state: 'denied' },
      { args: ['access', 'approve', request], state: 'approved' },
      { args: ['access', 'deny', request], state: 'approved' },
    ];
    for (const { args, state } of runs) {
      const r = await runWarden([...args, '--gateway', rest.gw.apiUrl, '--token', rest.tokens.dmitri!]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`already decided \\(${state}\\)`), r.stderr);
      assert.equal(r.stdout, '');
    }
  });
});
