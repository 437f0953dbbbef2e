import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Env, makeEnv, reviewDecision, sqlOp, who } from './fixture.js';

const agent = who('agent-w', ['agents']);
const dba = who('dana', ['dba']);

describe('waitForDecision (hold)', () => {
  let env: Env;
  before(async () => {
    env = await makeEnv({ deps: { pollMs: 50 } });
  });
  after(async () => {
    await env.close();
  });

  test('a local approval releases the wait at once', async () => {
    const op = sqlOp(agent, 'DELETE FROM held_1');
    const t = await env.approvals.createReview(op, reviewDecision('unbounded-writes', ['dba'], 1, 60_000));
    const started = Date.now();
    const waiting = env.approvals.waitForDecision(t.id, 60_000);
    setTimeout(() => void env.approvals.approve(t.id, dba), 20);
    assert.equal(await waiting, 'approved');
    assert.ok(Date.now() - started < 5000, 'released long before the hold ends');
    assert.equal(await env.approvals.consumeApproval(op), t.id, 'the held operation then runs');
  });

  test('a denial releases the wait with denied', async () => {
    const t = await env.approvals.createReview(sqlOp(agent, 'DELETE FROM held_2'), reviewDecision());
    const waiting = env.approvals.waitForDecision(t.id, 60_000);
    setTimeout(() => void env.approvals.deny(t.id, dba), 20);
    assert.equal(await waiting, 'denied');
  });

  test('an approval given through another instance on the same store releases it (polling)', async () => {
    const other = await env.instance({ ownStore: true });
    const op = sqlOp(agent, 'DELETE FROM held_3');
    const t = await env.approvals.createReview(op, reviewDecision());
    const started = Date.now();
    const waiting = env.approvals.waitForDecision(t.id, 30_000);
    setTimeout(() => void other.approve(t.id, dba), 100);
    assert.equal(await waiting, 'approved');
    assert.ok(Date.now() - started < 5000, 'released by the poll, not by the timeout');
    assert.equal(await env.approvals.consumeApproval(op), t.id);
  });

  test('times out with pending', async () => {
    const t = await env.approvals.createReview(sqlOp(agent, 'DELETE FROM held_4'), reviewDecision());
    const started = Date.now();
    assert.equal(await env.approvals.waitForDecision(t.id, 300), 'pending');
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 3000, `waited ${took}ms for a 300ms hold`);
  });

  test('a client cancel (abort) ends the wait', async () => {
    const t = await env.approvals.createReview(sqlOp(agent, 'DELETE FROM held_5'), reviewDecision());
    const cancel = new AbortController();
    const started = Date.now();
    const waiting = env.approvals.waitForDecision(t.id, 60_000, cancel.signal);
    setTimeout(() => cancel.abort(), 50);
    assert.equal(await waiting, 'pending');
    assert.ok(Date.now() - started < 5000);
    const already = new AbortController();
    already.abort();
    assert.equal(await env.approvals.waitForDecision(t.id, 60_000, already.signal), 'pending');
  });

  test('an already decided review returns at once', async () => {
    const t = await env.approvals.createReview(sqlOp(agent, 'DELETE FROM held_6'), reviewDecision());
    await env.approvals.deny(t.id, dba);
    assert.equal(await env.approvals.waitForDecision(t.id, 60_000), 'denied');
  });

  test('stop() releases every waiter', async () => {
    const extra = await env.instance();
    const t = await extra.createReview(sqlOp(agent, 'DELETE FROM held_7'), reviewDecision());
    const waiting = extra.waitForDecision(t.id, 60_000);
    setTimeout(() => extra.stop(), 20);
    assert.equal(await waiting, 'pending');
  });
});
