import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_MAX_JIT_MS, PENDING_TTL_MS } from '../../../src/approvals/index.js';
import { isWardenError } from '../../../src/core/errors.js';
import { Policy } from '../../../src/policy/index.js';
import { auditTypes, type Env, HOUR, makeEnv, who } from './fixture.js';

const MIN = 60_000;
const oncall = who('olivia', ['oncall']);
const sre = who('sergei', ['sre']);
const sre2 = who('sofia', ['sre']);
const admin = who('ada', ['admins']);
const agent = who('agent-7', ['agents']);

describe('just-in-time access', () => {
  let env: Env;
  before(async () => {
    env = await makeEnv();
  });
  after(async () => {
    await env.close();
  });

  test('request → approve → grant → expires with the clock', async () => {
    const { approvals, clock } = env;
    assert.deepEqual(approvals.activeGrants(oncall), []);
    const req = await approvals.requestAccess(oncall, 'shop', 30 * MIN, 'incident 42');
    assert.equal(req.state, 'pending');
    assert.match(req.id, /^g_/);
    assert.deepEqual(req.approversRequired, { groups: ['sre'], count: 1 });
    assert.equal(req.expiresAt, clock.now() + PENDING_TTL_MS);
    assert.deepEqual(approvals.activeGrants(oncall), [], 'pending grants nothing');

    clock.advance(MIN);
    const approved = await approvals.approveAccess(req.id, sre, 'go');
    assert.equal(approved.state, 'approved');
    assert.equal(approved.expiresAt, clock.now() + 30 * MIN, 'the grant runs from the approval');
    assert.deepEqual(approvals.activeGrants(oncall), ['shop'], 'visible at once, no refresh needed');
    assert.deepEqual(
      approvals.activeGrants(who('olivia', ['sales'])),
      [],
      'only while a JIT entry covers a current group',
    );

    // The real policy accepts the grant and refuses without it.
    const policy = new Policy(env.config);
    assert.equal(policy.access(oncall, 'shop', { jitGrants: approvals.activeGrants(oncall) }).granted, true);

    clock.advance(30 * MIN - 1);
    assert.deepEqual(approvals.activeGrants(oncall), ['shop']);
    clock.advance(1);
    assert.deepEqual(approvals.activeGrants(oncall), [], 'gone at the next operation after it ends');
    assert.equal(policy.access(oncall, 'shop', { jitGrants: approvals.activeGrants(oncall) }).granted, false);

    await approvals.refresh();
    assert.equal((await env.store.getAccessRequest(req.id))?.state, 'expired');
    const types = await auditTypes(env.audit);
    for (const t of ['access.requested', 'access.approved', 'access.expired'])
      assert.ok(types.includes(t), `audited ${t}`);
  });

  test('revoke ends a grant at once; approvers, admins and the grantee may revoke, others not', async () => {
    const { approvals } = env;
    const grant = async () => {
      const r = await approvals.requestAccess(oncall, 'shop', HOUR, 'deploy');
      return approvals.approveAccess(r.id, sre);
    };
    const g1 = await grant();
    assert.deepEqual(approvals.activeGrants(oncall), ['shop']);
    // agent cannot see the grant: revoking it answers "not found", like reading it.
    await assert.rejects(approvals.revokeAccess(g1.id, agent), (e: unknown) =>
      isWardenError(e, 'WARDEN_REVIEW_NOT_FOUND'),
    );
    const revoked = await approvals.revokeAccess(g1.id, sre2, 'done');
    assert.equal(revoked.state, 'revoked');
    assert.deepEqual(approvals.activeGrants(oncall), []);
    await assert.rejects(approvals.revokeAccess(g1.id, sre2), (e: unknown) =>
      isWardenError(e, 'WARDEN_REVIEW_FORBIDDEN'),
    );

    const g2 = await grant();
    assert.equal((await approvals.revokeAccess(g2.id, admin)).state, 'revoked');
    const g3 = await grant();
    assert.equal((await approvals.revokeAccess(g3.id, oncall)).state, 'revoked', 'the grantee may give it up');
    assert.deepEqual(approvals.activeGrants(oncall), []);
    assert.ok((await auditTypes(env.audit)).includes('access.revoked'));
  });

  test('a revoke on another instance reaches this one at its next refresh', async () => {
    const other = await env.instance({ ownStore: true });
    const r = await env.approvals.requestAccess(oncall, 'shop', HOUR, 'cross-instance');
    await other.approveAccess(r.id, sre);
    assert.deepEqual(env.approvals.activeGrants(oncall), [], 'not yet seen here');
    await env.approvals.refresh();
    assert.deepEqual(env.approvals.activeGrants(oncall), ['shop']);
    await other.revokeAccess(r.id, sre);
    await env.approvals.refresh();
    assert.deepEqual(env.approvals.activeGrants(oncall), []);
  });

  test('requests are checked: JIT entry, known connection, duration cap, reason', async () => {
    const { approvals } = env;
    await assert.rejects(approvals.requestAccess(agent, 'shop', HOUR, 'x'), (e: unknown) =>
      isWardenError(e, 'WARDEN_ACCESS_DENIED'),
    );
    await assert.rejects(approvals.requestAccess(oncall, 'nope', HOUR, 'x'), (e: unknown) =>
      isWardenError(e, 'WARDEN_CONNECTION_UNKNOWN'),
    );
    await assert.rejects(approvals.requestAccess(oncall, 'shop', 0, 'x'), (e: unknown) =>
      isWardenError(e, 'WARDEN_USAGE'),
    );
    await assert.rejects(approvals.requestAccess(oncall, 'shop', HOUR, '  '), (e: unknown) =>
      isWardenError(e, 'WARDEN_USAGE'),
    );

    const capped = await approvals.requestAccess(oncall, 'shop', 10 * HOUR, 'long');
    assert.equal(capped.durationMs, 2 * HOUR, 'maxDuration: 2h');
    const defaulted = await approvals.requestAccess(oncall, 'ops', 100 * HOUR, 'long');
    assert.equal(defaulted.durationMs, DEFAULT_MAX_JIT_MS);
    assert.deepEqual(defaulted.approversRequired, { groups: ['admins'], count: 1 }, 'no approvers → the admins');
  });

  test('deciding: no self-approval, approver group only, deny', async () => {
    const { approvals } = env;
    const selfish = who('sid', ['oncall', 'sre']);
    const r = await approvals.requestAccess(selfish, 'shop', HOUR, 'me');
    await assert.rejects(
      approvals.approveAccess(r.id, selfish),
      (e: unknown) => isWardenError(e, 'WARDEN_REVIEW_FORBIDDEN') && e.detail.reason === 'self-approval',
    );
    await assert.rejects(
      approvals.approveAccess(r.id, admin),
      (e: unknown) => isWardenError(e, 'WARDEN_REVIEW_FORBIDDEN') && e.detail.reason === 'not-approver',
    );
    const denied = await approvals.denyAccess(r.id, sre, 'not now');
    assert.equal(denied.state, 'denied');
    assert.deepEqual(approvals.activeGrants(selfish), []);
    await assert.rejects(
      approvals.approveAccess(r.id, sre2),
      (e: unknown) =>
        isWardenError(e, 'WARDEN_ALREADY_DECIDED') &&
        e.detail.reason === 'already-decided' &&
        e.detail.state === 'denied',
    );
    assert.ok((await auditTypes(env.audit)).includes('access.denied'));
  });

  test('visibility: own requests, ones you may approve, all for admins', async () => {
    const r = await env.approvals.requestAccess(who('vic', ['oncall']), 'ops', HOUR, 'visibility');
    const sees = async (viewer: ReturnType<typeof who>) =>
      (await env.approvals.listAccess(viewer, 'pending')).some((x) => x.id === r.id);
    assert.equal(await sees(who('vic', ['oncall'])), true);
    assert.equal(await sees(admin), true, 'admins approve ops (default approvers) and see all');
    assert.equal(await sees(sre), false, 'sre approves shop, not ops');
    assert.equal(await sees(agent), false);
    await assert.rejects(env.approvals.getAccess(agent, r.id), (e: unknown) =>
      isWardenError(e, 'WARDEN_REVIEW_NOT_FOUND'),
    );
  });

  test('a pending request lapses after 24h', async () => {
    const r = await env.approvals.requestAccess(oncall, 'shop', HOUR, 'lapse');
    env.clock.advance(PENDING_TTL_MS);
    await env.approvals.refresh();
    assert.equal((await env.store.getAccessRequest(r.id))?.state, 'expired');
    await assert.rejects(
      env.approvals.approveAccess(r.id, sre),
      (e: unknown) => isWardenError(e, 'WARDEN_ALREADY_DECIDED') && e.detail.state === 'expired',
    );
  });

  test('restart: an active grant survives and still expires on time', async () => {
    const r = await env.approvals.requestAccess(oncall, 'shop', HOUR, 'restart');
    const g = await env.approvals.approveAccess(r.id, sre);
    env.approvals.stop();
    const restarted = await env.instance({ ownStore: true });
    assert.deepEqual(restarted.activeGrants(oncall), ['shop'], 'loaded from the store at start');
    env.clock.set(g.expiresAt);
    assert.deepEqual(restarted.activeGrants(oncall), []);
  });
});
