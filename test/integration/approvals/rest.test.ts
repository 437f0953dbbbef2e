// The REST routes the CLI uses, through a real gateway (API listener, dev-issuer tokens, SQLite
// store): reviews list/show/approve/deny with the long-poll, and the access-request routes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { registerAccessRoutes } from '../../../src/api/routes/access.js';
import { registerReviewRoutes } from '../../../src/api/routes/reviews.js';
import type { Gateway } from '../../../src/gateway/index.js';
import type { RunningGateway } from '../../../src/server/index.js';
import { reviewDecision, sqlOp } from './fixture.js';
import { type RestGateway, restGateway } from './rest-fixture.js';

// Until src/api/server.ts registers these routes itself; then this is a no-op.
function routesOnce(register: (app: FastifyInstance, gw: Gateway) => void, probe: string) {
  return (app: FastifyInstance, gw: Gateway) => {
    if (!app.hasRoute({ method: 'GET', url: `/api/v1${probe}` })) register(app, gw);
  };
}

describe('REST: /api/v1/reviews and /api/v1/access-requests', () => {
  let rest: RestGateway;
  let gw: RunningGateway;
  const call: RestGateway['call'] = (...args) => rest.call(...args);
  const devWho = (sub: string) => rest.identity(sub);

  before(async () => {
    const people = { agent: ['agents'], dana: ['dba'], olivia: ['oncall'], sales: ['sales'], ada: ['admins'] };
    rest = await restGateway(people, {
      apiPlugins: [routesOnce(registerReviewRoutes, '/reviews'), routesOnce(registerAccessRoutes, '/access-requests')],
    });
    gw = rest.gw;
  });
  after(async () => {
    await rest?.close();
  });

  test('reviews: list, show, long-poll released by an approval, problems for refusals', async () => {
    const identity = devWho('agent');
    const t = await gw.gateway.approvals.createReview(sqlOp(identity, 'DELETE FROM orders'), reviewDecision());

    const mine = await call('agent', 'GET', '/reviews?state=pending');
    assert.equal(mine.status, 200);
    assert.deepEqual(
      mine.body.reviews.map((r: { id: string }) => r.id),
      [t.id],
    );
    assert.equal(mine.body.reviews[0].requester.sub, 'agent');
    assert.deepEqual((await call('sales', 'GET', '/reviews?state=all')).body.reviews, [], 'outsiders see nothing');
    assert.equal((await call('sales', 'GET', `/reviews/${t.id}`)).status, 404);
    assert.equal((await call('dana', 'GET', '/reviews?state=bogus')).status, 400);

    const self = await call('agent', 'POST', `/reviews/${t.id}/approve`, {});
    assert.equal(self.status, 403);
    assert.equal(self.body.code, 'WARDEN_REVIEW_FORBIDDEN');
    assert.equal(self.body.reason, 'self-approval');

    const started = Date.now();
    const polling = call('agent', 'GET', `/reviews/${t.id}?wait=20s`);
    await new Promise((r) => setTimeout(r, 100));
    const approved = await call('dana', 'POST', `/reviews/${t.id}/approve`, { reason: 'ok' });
    assert.equal(approved.status, 200);
    assert.equal(approved.body.review.state, 'approved');
    const polled = await polling;
    assert.equal(polled.status, 200);
    assert.equal(polled.body.review.state, 'approved');
    assert.ok(Date.now() - started < 5000, 'the long-poll returned on the decision');

    const quick = await call('agent', 'GET', `/reviews/${t.id}?wait=20s`);
    assert.equal(quick.body.review.state, 'approved', 'a decided review returns at once');
    const late = await call('dana', 'POST', `/reviews/${t.id}/deny`, {});
    assert.equal(late.status, 409, 'deciding a decided review is a conflict');
    assert.equal(late.body.code, 'WARDEN_ALREADY_DECIDED');
    assert.equal(late.body.reason, 'already-decided');
    assert.equal(late.body.state, 'approved');
  });

  test('access requests: request, list, approve, revoke', async () => {
    const created = await call('olivia', 'POST', '/access-requests', {
      connection: 'shop',
      duration: '30m',
      reason: 'incident',
    });
    assert.equal(created.status, 201);
    const id = created.body.request.id as string;
    assert.equal(created.body.request.durationMs, 30 * 60_000);
    assert.equal(
      (await call('agent', 'POST', '/access-requests', { connection: 'shop', duration: '30m', reason: 'x' })).status,
      403,
    );
    assert.equal(
      (await call('olivia', 'POST', '/access-requests', { connection: 'shop', duration: 'soon', reason: 'x' })).status,
      400,
    );

    const listed = await call('dana', 'GET', '/access-requests?state=pending');
    assert.ok(listed.body.requests.some((r: { id: string }) => r.id === id));
    assert.equal((await call('sales', 'GET', `/access-requests/${id}`)).status, 404);

    const approved = await call('dana', 'POST', `/access-requests/${id}/approve`, {});
    assert.equal(approved.body.request.state, 'approved');
    assert.deepEqual(gw.gateway.approvals.activeGrants(devWho('olivia')), ['shop']);

    const revoked = await call('ada', 'POST', `/access-requests/${id}/revoke`, { reason: 'over' });
    assert.equal(revoked.body.request.state, 'revoked');
    assert.deepEqual(gw.gateway.approvals.activeGrants(devWho('olivia')), []);
    assert.equal((await call('olivia', 'GET', `/access-requests/${id}`)).body.request.state, 'revoked');
  });
});
