// Compare-and-set under real concurrency: several gateway instances, each with its own store
// connection (SQLite: one file, several connections; PostgreSQL: one server, several pools),
// decide one item at the same moment. A 1-of-M item is decided exactly once (the others get
// 409 already-decided), never granted twice; an N-of-M item loses no approval and counts one
// principal once; the store's transition() re-decides on the fresh row after a lost race.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Approvals } from '../../../src/approvals/index.js';
import { AuditLog } from '../../../src/audit/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { isWardenError } from '../../../src/core/errors.js';
import { openStore, type Review, type Store } from '../../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { HOUR, reviewDecision, silentLogger, sqlOp, testConfig, who } from './fixture.js';

const INSTANCES = 4;
const ROUNDS = 6;

interface Backend {
  url: string;
  stop(): Promise<void>;
}

const backends: Record<string, () => Promise<Backend>> = {
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-cas-'));
    return { url: `sqlite:${join(dir, 'warden.db')}`, stop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
  postgres: async () => {
    const pg: TestPostgres = await startPostgres();
    return { url: pg.url, stop: () => pg.stop() };
  },
};

const agent = who('agent-cas', ['agents']);
const dbas = Array.from({ length: INSTANCES }, (_, i) => who(`dba-${i}`, ['dba']));
const sres = Array.from({ length: INSTANCES }, (_, i) => who(`sre-${i}`, ['sre']));

for (const [name, start] of Object.entries(backends)) {
  describe(`compare-and-set on ${name}: ${INSTANCES} instances deciding at once`, () => {
    let backend: Backend;
    const stores: Store[] = [];
    const audits: AuditLog[] = [];
    const instances: Approvals[] = [];
    const clock = new ManualClock();

    before(async () => {
      backend = await start();
      const config = testConfig({
        rules: [
          {
            name: 'one-of-m',
            when: 'op.kind == "sql" && "delete" in op.sql.kinds',
            action: 'review',
            approvers: { groups: ['dba'], count: 1 },
          },
          {
            name: 'two-of-m',
            when: 'op.kind == "sql" && "update" in op.sql.kinds',
            action: 'review',
            approvers: { groups: ['dba'], count: 2 },
          },
        ],
      });
      for (let i = 0; i < INSTANCES; i++) {
        const store = await openStore(backend.url);
        const audit = new AuditLog(store, { clock });
        const approvals = new Approvals({ config, store, audit, clock, logger: silentLogger, refreshMs: 60_000 });
        await approvals.start();
        stores.push(store);
        audits.push(audit);
        instances.push(approvals);
      }
    });
    after(async () => {
      for (const a of instances) {
        a.stop();
        await a.notifier.drain();
      }
      for (const a of audits) await a.flush();
      for (const s of stores) await s.close();
      await backend?.stop();
    });

    const store = () => stores[0] as Store;
    /** Audit entries of this item, by type, over every instance's writes. */
    const auditOf = async (key: 'review' | 'request', id: string) => {
      for (const a of audits) await a.flush();
      const entries = await (audits[0] as AuditLog).list({ limit: 100_000 });
      const types: Record<string, number> = {};
      for (const e of entries) if (e.data[key] === id) types[e.type] = (types[e.type] ?? 0) + 1;
      return types;
    };
    const isAlreadyDecided = (reason: unknown, state: string) =>
      isWardenError(reason, 'WARDEN_ALREADY_DECIDED') && reason.detail.state === state;

    test('a 1-of-M review approved by every instance at once: one approval wins, the rest get 409, it runs once', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const op = sqlOp(agent, `DELETE FROM race_${round}`);
        const first = instances[0] as Approvals;
        const t = await first.createReview(op, reviewDecision('one-of-m', ['dba'], 1));
        const results = await Promise.allSettled(instances.map((a, i) => a.approve(t.id, dbas[i]!)));

        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        assert.equal(won.length, 1, `round ${round}: exactly one approval decides`);
        for (const r of results) {
          if (r.status === 'rejected') assert.ok(isAlreadyDecided(r.reason, 'approved'), String(r.reason));
        }
        const final = (await store().getReview(t.id)) as Review;
        assert.equal(final.state, 'approved');
        assert.deepEqual(
          final.approvals.map((a) => a.sub),
          [dbas[won[0]!]!.sub],
          'only the winner is recorded',
        );
        assert.deepEqual(await auditOf('review', t.id), { 'review.created': 1, 'review.approved': 1 });
        // One use: whichever instance runs it first takes it; nobody runs it twice.
        const uses = await Promise.all(instances.map((a) => a.consumeApproval(op)));
        assert.deepEqual(
          uses.filter((u) => u !== null),
          [t.id],
        );
      }
    });

    test('approve and deny racing on a 1-of-M review: one decision, and the loser is told the state', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const t = await (instances[0] as Approvals).createReview(
          sqlOp(agent, `DELETE FROM duel_${round}`),
          reviewDecision('one-of-m', ['dba'], 1),
        );
        const results = await Promise.allSettled(
          instances.map((a, i) => (i % 2 === 0 ? a.approve(t.id, dbas[i]!) : a.deny(t.id, dbas[i]!))),
        );
        const final = (await store().getReview(t.id)) as Review;
        assert.ok(final.state === 'approved' || final.state === 'denied');
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) {
          if (r.status === 'rejected') assert.ok(isAlreadyDecided(r.reason, final.state), String(r.reason));
        }
        const types = await auditOf('review', t.id);
        assert.equal((types['review.approved'] ?? 0) + (types['review.denied'] ?? 0), 1);
      }
    });

    test('a 2-of-M review approved by every instance at once: two distinct approvals counted, none lost', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const t = await (instances[0] as Approvals).createReview(
          sqlOp(agent, `UPDATE race SET n = ${round}`),
          reviewDecision('two-of-m', ['dba'], 2),
        );
        const results = await Promise.allSettled(instances.map((a, i) => a.approve(t.id, dbas[i]!)));
        const counted = results.flatMap((r, i) => (r.status === 'fulfilled' ? [dbas[i]!.sub] : []));
        const final = (await store().getReview(t.id)) as Review;
        assert.equal(final.state, 'approved');
        assert.deepEqual(final.approvals.map((a) => a.sub).sort(), counted.sort(), 'every accepted approval is stored');
        assert.equal(counted.length, 2);
        for (const r of results) {
          if (r.status === 'rejected') assert.ok(isAlreadyDecided(r.reason, 'approved'), String(r.reason));
        }
        assert.deepEqual(await auditOf('review', t.id), {
          'review.created': 1,
          'review.approval': 1,
          'review.approved': 1,
        });
      }
    });

    test('one principal approving a 2-of-M review on every instance at once counts once', async () => {
      const dana = who('dana-cas', ['dba']);
      const t = await (instances[0] as Approvals).createReview(
        sqlOp(agent, 'UPDATE twice SET n = 1'),
        reviewDecision('two-of-m', ['dba'], 2),
      );
      const results = await Promise.allSettled(instances.map((a) => a.approve(t.id, dana)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) {
        if (r.status === 'rejected') {
          assert.ok(isWardenError(r.reason, 'WARDEN_REVIEW_FORBIDDEN'), String(r.reason));
          assert.equal(r.reason.detail.reason, 'already-approved');
        }
      }
      const final = (await store().getReview(t.id)) as Review;
      assert.equal(final.state, 'pending');
      assert.deepEqual(
        final.approvals.map((a) => a.sub),
        ['dana-cas'],
      );
    });

    test('a 1-of-M access request approved by every instance at once: one grant, one audit entry', async () => {
      const oncall = who('oc-cas', ['oncall']);
      const r = await (instances[0] as Approvals).requestAccess(oncall, 'shop', HOUR, 'incident');
      const results = await Promise.allSettled(instances.map((a, i) => a.approveAccess(r.id, sres[i]!)));
      assert.equal(results.filter((x) => x.status === 'fulfilled').length, 1);
      for (const x of results) {
        if (x.status === 'rejected') assert.ok(isAlreadyDecided(x.reason, 'approved'), String(x.reason));
      }
      const final = await store().getAccessRequest(r.id);
      assert.equal(final?.state, 'approved');
      assert.equal(final?.approvals.length, 1);
      assert.deepEqual(await auditOf('request', r.id), { 'access.requested': 1, 'access.approved': 1 });
      for (const a of instances) {
        await a.refresh();
        assert.deepEqual(a.activeGrants(oncall), ['shop']);
      }
    });

    test('store transition(): concurrent appends from every connection lose nothing, and lost races were retried', async () => {
      let retried = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const t = await (instances[0] as Approvals).createReview(
          sqlOp(agent, `UPDATE append SET n = ${round}`),
          reviewDecision('two-of-m', ['dba'], 99),
        );
        let calls = 0;
        const outcomes = await Promise.all(
          stores.map((s, i) =>
            s.transitionReview(t.id, (cur) => {
              calls++;
              return { approvals: [...cur.approvals, { issuer: 'https://issuer.test', sub: `w-${i}`, at: i }] };
            }),
          ),
        );
        retried += calls - stores.length;
        assert.ok(outcomes.every((o) => o !== undefined));
        const final = (await store().getReview(t.id)) as Review;
        assert.deepEqual(
          final.approvals.map((a) => a.sub).sort(),
          stores.map((_, i) => `w-${i}`).sort(),
          `round ${round}: every append is kept`,
        );
        // Each writer's result is the row it decided on plus its own change.
        for (const [i, o] of outcomes.entries()) assert.equal(o?.after.approvals.at(-1)?.sub, `w-${i}`);
      }
      // Without interleaved writers this would be 0: the race was real.
      assert.ok(retried > 0, 'some writer lost a race and re-decided');
    });
  });
}
