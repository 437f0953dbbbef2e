import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PENDING_TTL_MS } from '../../../src/approvals/index.js';
import { isWardenError } from '../../../src/core/errors.js';
import { operationHash } from '../../../src/gateway/ports.js';
import { auditTypes, type Env, HOUR, makeEnv, reviewDecision, sqlOp, who } from './fixture.js';

const agent = who('agent-7', ['agents']);
const dba = who('dana', ['dba']);
const dba2 = who('dmitri', ['dba']);
const security = who('sam', ['security']);
const outsider = who('olga', ['sales']);
const admin = who('ada', ['admins']);

/** 409: the review left `pending`; the detail names the state it is in. */
function alreadyDecided(state: string) {
  return (err: unknown) => {
    assert.ok(isWardenError(err, 'WARDEN_ALREADY_DECIDED'), `expected WARDEN_ALREADY_DECIDED, got ${String(err)}`);
    assert.equal(err.detail.reason, 'already-decided');
    assert.equal(err.detail.state, state);
    return true;
  };
}

function refusedWith(reason: string) {
  return (err: unknown) => {
    assert.ok(isWardenError(err, 'WARDEN_REVIEW_FORBIDDEN'), `expected WARDEN_REVIEW_FORBIDDEN, got ${String(err)}`);
    assert.equal(err.detail.reason, reason);
    return true;
  };
}

describe('reviews', () => {
  let env: Env;
  before(async () => {
    env = await makeEnv();
  });
  after(async () => {
    await env.close();
  });

  test('create → approve by another identity → the exact operation runs once; a third send needs a new review', async () => {
    const { approvals, clock, store } = env;
    const op = sqlOp(agent, 'DELETE FROM orders');
    assert.equal(await approvals.consumeApproval(op), null, 'nothing approved yet');

    const ticket = await approvals.createReview(op, reviewDecision());
    assert.equal(ticket.state, 'pending');
    assert.match(ticket.id, /^r_/);
    const stored = await store.getReview(ticket.id);
    assert.ok(stored);
    assert.equal(stored.requester.sub, 'agent-7');
    assert.deepEqual(stored.requester.groups, ['agents']);
    assert.equal(stored.connection, 'shop');
    assert.equal(stored.kind, 'sql');
    assert.equal(stored.text, 'DELETE FROM orders');
    assert.equal(stored.opHash, operationHash(op));
    assert.deepEqual(stored.rules, ['unbounded-writes']);
    assert.deepEqual(stored.approversRequired, { groups: ['dba'], count: 1 });
    assert.equal(stored.usesLeft, 1);
    assert.equal(stored.expiresAt, clock.now() + PENDING_TTL_MS);

    // Re-sending while pending hands back the same review instead of a new one.
    const again = await approvals.createReview(sqlOp(agent, 'DELETE FROM orders'), reviewDecision());
    assert.equal(again.id, ticket.id);

    // Pending is not approved.
    assert.equal(await approvals.consumeApproval(op), null);

    clock.advance(1000);
    const approved = await approvals.approve(ticket.id, dba, 'looks fine');
    assert.equal(approved.state, 'approved');
    assert.equal(approved.decidedAt, clock.now());
    assert.equal(approved.expiresAt, clock.now() + 30 * 60_000, 'approvalTtl of the rule (30m)');
    assert.deepEqual(
      approved.approvals.map((a) => [a.sub, a.reason]),
      [['dana', 'looks fine']],
    );

    // A changed statement is not covered.
    assert.equal(await approvals.consumeApproval(sqlOp(agent, 'DELETE FROM orders WHERE true')), null);
    // Nor the same statement by someone else, or on another connection.
    assert.equal(await approvals.consumeApproval(sqlOp(who('agent-8', ['agents']), 'DELETE FROM orders')), null);
    assert.equal(await approvals.consumeApproval(sqlOp(agent, 'DELETE FROM orders', 'ops')), null);

    assert.equal(
      await approvals.consumeApproval(sqlOp(agent, 'DELETE FROM orders')),
      ticket.id,
      'the re-sent statement runs',
    );
    assert.equal(await approvals.consumeApproval(sqlOp(agent, 'DELETE FROM orders')), null, 'only once');
    assert.equal((await store.getReview(ticket.id))?.state, 'executed');

    const third = await approvals.createReview(sqlOp(agent, 'DELETE FROM orders'), reviewDecision());
    assert.notEqual(third.id, ticket.id, 'a third send needs a new review');
    assert.equal(third.state, 'pending');

    const types = await auditTypes(env.audit);
    for (const t of ['review.created', 'review.approved', 'review.executed'])
      assert.ok(types.includes(t), `audited ${t}`);
    const entries = await env.audit.list({ type: 'review.executed' });
    assert.equal(entries.at(-1)?.data.review, ticket.id);
    assert.equal((await env.audit.verify()).ok, true);
  });

  test('a rule with uses: 2 allows the operation twice', async () => {
    const op = sqlOp(agent, 'DROP TABLE tmp_1');
    const t = await env.approvals.createReview(op, reviewDecision('two-person-drop', ['dba', 'security'], 2));
    await env.approvals.approve(t.id, dba);
    await env.approvals.approve(t.id, security);
    assert.equal(await env.approvals.consumeApproval(op), t.id);
    assert.equal((await env.store.getReview(t.id))?.state, 'approved');
    assert.equal(await env.approvals.consumeApproval(op), t.id);
    assert.equal(await env.approvals.consumeApproval(op), null);
  });

  test('deny ends the review; the operation stays refused', async () => {
    const op = sqlOp(agent, 'UPDATE orders SET paid = true');
    const t = await env.approvals.createReview(op, reviewDecision());
    const denied = await env.approvals.deny(t.id, dba, 'no');
    assert.equal(denied.state, 'denied');
    assert.equal(await env.approvals.consumeApproval(op), null);
    await assert.rejects(env.approvals.approve(t.id, dba2), alreadyDecided('denied'));
    await assert.rejects(env.approvals.deny(t.id, dba2), alreadyDecided('denied'));
    assert.ok((await auditTypes(env.audit)).includes('review.denied'));
  });

  test('self-approval is refused, even for a requester in the approver group', async () => {
    const selfish = who('dana-bot', ['agents', 'dba']);
    const t = await env.approvals.createReview(sqlOp(selfish, 'DELETE FROM carts'), reviewDecision());
    await assert.rejects(env.approvals.approve(t.id, selfish), refusedWith('self-approval'));
    await assert.rejects(env.approvals.deny(t.id, selfish), refusedWith('self-approval'));
    assert.equal((await env.store.getReview(t.id))?.state, 'pending');
  });

  test('an approver outside the group is refused; admins are not implicit approvers', async () => {
    const t = await env.approvals.createReview(sqlOp(agent, 'DELETE FROM invoices'), reviewDecision());
    // The outsider cannot see the review: deciding it answers "not found", like reading it.
    await assert.rejects(env.approvals.approve(t.id, outsider), (e: unknown) =>
      isWardenError(e, 'WARDEN_REVIEW_NOT_FOUND'),
    );
    await assert.rejects(env.approvals.deny(t.id, outsider), (e: unknown) =>
      isWardenError(e, 'WARDEN_REVIEW_NOT_FOUND'),
    );
    await assert.rejects(env.approvals.approve(t.id, admin), refusedWith('not-approver'));
    assert.equal((await env.store.getReview(t.id))?.state, 'pending');
  });

  test('N-of-M: two distinct approvers are needed, one cannot approve twice', async () => {
    const op = sqlOp(agent, 'DROP TABLE audit_copy');
    const t = await env.approvals.createReview(op, reviewDecision('two-person-drop', ['dba', 'security'], 2));
    const first = await env.approvals.approve(t.id, dba);
    assert.equal(first.state, 'pending');
    assert.equal(first.approvals.length, 1);
    assert.equal(await env.approvals.consumeApproval(op), null, 'one approval of two is not enough');
    await assert.rejects(env.approvals.approve(t.id, dba), refusedWith('already-approved'));
    const second = await env.approvals.approve(t.id, security);
    assert.equal(second.state, 'approved');
    assert.deepEqual(
      second.approvals.map((a) => a.sub),
      ['dana', 'sam'],
    );
    assert.equal(second.expiresAt, env.clock.now() + HOUR, 'default approvalTtl 1h');
    assert.equal(await env.approvals.consumeApproval(op), t.id);
  });

  test('expiry: a pending review lapses after 24h, an approval after its TTL (manual clock)', async () => {
    const pendingOp = sqlOp(agent, 'DELETE FROM sessions');
    const pending = await env.approvals.createReview(pendingOp, reviewDecision());
    const approvedOp = sqlOp(agent, 'DELETE FROM tokens');
    const approved = await env.approvals.createReview(approvedOp, reviewDecision());
    await env.approvals.approve(approved.id, dba);

    env.clock.advance(30 * 60_000); // exactly the approval TTL
    assert.equal(await env.approvals.consumeApproval(approvedOp), null, 'an approval past its TTL does not run');
    await env.approvals.refresh();
    assert.equal((await env.store.getReview(approved.id))?.state, 'expired');
    assert.equal((await env.store.getReview(pending.id))?.state, 'pending');

    env.clock.advance(PENDING_TTL_MS);
    // Approving a lapsed review is refused (and marks it expired on the way).
    await assert.rejects(env.approvals.approve(pending.id, dba), alreadyDecided('expired'));
    assert.equal((await env.store.getReview(pending.id))?.state, 'expired');
    const expired = await env.audit.list({ type: 'review.expired' });
    assert.deepEqual(
      expired
        .map((e) => e.data.review)
        .filter((id) => id === pending.id || id === approved.id)
        .sort(),
      [approved.id, pending.id].sort(),
    );
  });

  test('visibility: own reviews, reviews one may approve, everything for admins', async () => {
    const mine = await env.approvals.createReview(
      sqlOp(who('vis-agent', ['agents']), 'DELETE FROM a'),
      reviewDecision(),
    );
    const other = await env.approvals.createReview(
      sqlOp(who('vis-agent-2', ['agents']), 'DROP TABLE b'),
      reviewDecision('two-person-drop', ['security'], 1),
    );
    const ids = async (viewer: ReturnType<typeof who>) =>
      (await env.approvals.listReviews(viewer, 'pending'))
        .map((r) => r.id)
        .filter((id) => id === mine.id || id === other.id);

    assert.deepEqual(await ids(who('vis-agent', ['agents'])), [mine.id]);
    assert.deepEqual(await ids(dba), [mine.id]);
    assert.deepEqual(await ids(security), [other.id]);
    assert.deepEqual(await ids(outsider), []);
    assert.deepEqual((await ids(admin)).sort(), [mine.id, other.id].sort());

    assert.equal((await env.approvals.getReview(security, other.id)).id, other.id);
    await assert.rejects(env.approvals.getReview(outsider, other.id), (e: unknown) =>
      isWardenError(e, 'WARDEN_REVIEW_NOT_FOUND'),
    );
    await assert.rejects(env.approvals.approve('r_nope', dba), (e: unknown) =>
      isWardenError(e, 'WARDEN_REVIEW_NOT_FOUND'),
    );
  });

  test('restart: a new Approvals on the same store keeps a pending review, which then behaves the same', async () => {
    const op = sqlOp(agent, 'DELETE FROM line_items');
    const t = await env.approvals.createReview(op, reviewDecision());
    env.approvals.stop();
    const restarted = await env.instance({ ownStore: true });
    assert.equal((await restarted.getReview(dba, t.id)).state, 'pending');
    assert.equal((await restarted.createReview(op, reviewDecision())).id, t.id);
    await restarted.approve(t.id, dba);
    assert.equal(await restarted.consumeApproval(op), t.id);
    assert.equal(await restarted.consumeApproval(op), null);
  });

  test('two instances deciding one review: exactly one wins', async () => {
    const other = await env.instance({ ownStore: true });
    const op = sqlOp(agent, 'DELETE FROM race');
    const t = await env.approvals.createReview(op, reviewDecision());
    const results = await Promise.allSettled([env.approvals.approve(t.id, dba), other.deny(t.id, dba2)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1, 'one decision wins');
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(lost && lost.status === 'rejected');
    assert.equal(isWardenError(lost.reason, 'WARDEN_ALREADY_DECIDED'), true, String(lost.reason));
    const final = await env.store.getReview(t.id);
    assert.ok(final?.state === 'approved' || final?.state === 'denied');
  });
});
