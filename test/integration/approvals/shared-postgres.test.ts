// Two gateway instances sharing a real PostgreSQL store: a hold on one is released by an approval
// on the other, grants cross over at the next refresh, and only one instance decides a review.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Approvals } from '../../../src/approvals/index.js';
import { AuditLog } from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { isWardenError } from '../../../src/core/errors.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { reviewDecision, silentLogger, sqlOp, testConfig, who } from './fixture.js';

describe('approvals on a shared PostgreSQL store', () => {
  let pg: TestPostgres;
  const stores: Store[] = [];
  const instances: Approvals[] = [];
  let a: Approvals;
  let b: Approvals;

  before(async () => {
    pg = await startPostgres();
    const clock = new ManualClock();
    const config = testConfig();
    for (let i = 0; i < 2; i++) {
      const store = await openStore(pg.url);
      stores.push(store);
      const approvals = new Approvals({
        config,
        store,
        audit: new AuditLog(store, { clock }),
        clock,
        logger: silentLogger,
        pollMs: 50,
        refreshMs: 60_000,
      });
      await approvals.start();
      instances.push(approvals);
    }
    [a, b] = instances as [Approvals, Approvals];
  });
  after(async () => {
    for (const i of instances) i.stop();
    for (const s of stores) await s.close();
    await pg?.stop();
  });

  test('a hold on instance A is released by an approval on instance B', async () => {
    const op = sqlOp(who('agent-pg', ['agents']), 'DELETE FROM orders');
    const t = await a.createReview(op, reviewDecision('unbounded-writes', ['dba'], 1, 30_000));
    const started = Date.now();
    const waiting = a.waitForDecision(t.id, 30_000);
    setTimeout(() => void b.approve(t.id, who('dana', ['dba'])), 100);
    assert.equal(await waiting, 'approved');
    assert.ok(Date.now() - started < 5000);
    assert.equal(await a.consumeApproval(op), t.id);
    assert.equal(await b.consumeApproval(op), null, 'the single use is gone on every instance');
  });

  test('concurrent decisions on two instances: one wins', async () => {
    const t = await a.createReview(sqlOp(who('agent-pg', ['agents']), 'DELETE FROM carts'), reviewDecision());
    const results = await Promise.allSettled([
      a.approve(t.id, who('dana', ['dba'])),
      b.deny(t.id, who('dmitri', ['dba'])),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(lost?.status === 'rejected' && isWardenError(lost.reason, 'WARDEN_ALREADY_DECIDED'));
  });

  test('a grant approved on B is active on A after its refresh, and a revoke on A reaches B', async () => {
    const oncall = who('olivia', ['oncall']);
    const r = await a.requestAccess(oncall, 'shop', 3_600_000, 'incident');
    await b.approveAccess(r.id, who('sergei', ['sre']));
    await a.refresh();
    assert.deepEqual(a.activeGrants(oncall), ['shop']);
    await a.revokeAccess(r.id, who('sergei', ['sre']));
    assert.deepEqual(a.activeGrants(oncall), []);
    await b.refresh();
    assert.deepEqual(b.activeGrants(oncall), []);
  });
});
