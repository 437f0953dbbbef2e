import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertMayDecide,
  DEFAULT_MAX_JIT_MS,
  jitTerms,
  mayView,
  reviewSettings,
  withDefaultApprovers,
} from '../../../src/approvals/eligibility.js';
import { GrantIndex } from '../../../src/approvals/grant-index.js';
import { signBody, wantsEvent } from '../../../src/approvals/notify.js';
import { configSchema } from '../../../src/config/schema.js';
import { isWardenError } from '../../../src/core/errors.js';
import type { AccessRequest } from '../../../src/store/index.js';

const config = configSchema.parse({
  admins: ['root'],
  connections: { db: { type: 'postgres' } },
  access: [
    { groups: ['a'], connections: ['db'], jit: true, maxDuration: '1h' },
    { groups: ['a', 'b'], connections: ['db'], jit: true, maxDuration: '4h', approvers: { groups: ['x'], count: 2 } },
    { groups: ['c'], connections: ['db'] },
  ],
  rules: [
    { name: 'r1', when: 'true', action: 'review', uses: 3, approvalTtl: '2h' },
    { name: 'r2', when: 'true', action: 'review', uses: 1, approvalTtl: '3h' },
    { name: 'b1', when: 'true', action: 'block' },
  ],
});

const A = 'https://a.example';
const B = 'https://b.example';
const pending = {
  state: 'pending',
  requester: { issuer: A, sub: 'req' },
  approversRequired: { groups: ['x'], count: 2 },
  approvals: [{ issuer: A, sub: 'p', at: 0 }],
};

function reason(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    assert.ok(isWardenError(e, 'WARDEN_REVIEW_FORBIDDEN'));
    return e.detail.reason;
  }
  return 'allowed';
}

test('assertMayDecide: stable reasons, requester never decides', () => {
  assert.equal(
    reason(() => assertMayDecide('r', pending, { issuer: A, sub: 'q', groups: ['x'] })),
    'allowed',
  );
  assert.equal(
    reason(() => assertMayDecide('r', pending, { issuer: A, sub: 'req', groups: ['x'] })),
    'self-approval',
  );
  assert.equal(
    reason(() => assertMayDecide('r', pending, { issuer: A, sub: 'q', groups: ['y'] })),
    'not-approver',
  );
  assert.equal(
    reason(() => assertMayDecide('r', pending, { issuer: A, sub: 'p', groups: ['x'] })),
    'already-approved',
  );
  // A decided item is a conflict (409), not a refusal of the approver, whoever asks.
  for (const state of ['approved', 'denied', 'expired', 'executed', 'revoked']) {
    for (const sub of ['q', 'req', 'p']) {
      assert.throws(
        () => assertMayDecide('r', { ...pending, state }, { issuer: A, sub, groups: ['x'] }),
        (e: unknown) =>
          isWardenError(e, 'WARDEN_ALREADY_DECIDED') &&
          e.detail.reason === 'already-decided' &&
          e.detail.state === state &&
          e.message === `r is already decided (${state})`,
      );
    }
  }
});

test('assertMayDecide: principals are (issuer, sub), sub exact; an unknown issuer refuses', () => {
  // Same sub at another issuer: another principal, neither the requester nor the first approver.
  assert.equal(
    reason(() => assertMayDecide('r', pending, { issuer: B, sub: 'req', groups: ['x'] })),
    'allowed',
  );
  assert.equal(
    reason(() => assertMayDecide('r', pending, { issuer: B, sub: 'p', groups: ['x'] })),
    'allowed',
  );
  assert.equal(
    reason(() => assertMayDecide('r', pending, { issuer: A, sub: 'P', groups: ['x'] })),
    'allowed',
  );
  // Rows from before issuers were recorded (issuer ''): count against every issuer's same sub.
  const legacy = { ...pending, requester: { issuer: '', sub: 'req' }, approvals: [{ issuer: '', sub: 'p', at: 0 }] };
  assert.equal(
    reason(() => assertMayDecide('r', legacy, { issuer: B, sub: 'req', groups: ['x'] })),
    'self-approval',
  );
  assert.equal(
    reason(() => assertMayDecide('r', legacy, { issuer: B, sub: 'p', groups: ['x'] })),
    'already-approved',
  );
});

test('mayView: own, approver, admin', () => {
  const item = { requester: { issuer: A, sub: 'req' }, approversRequired: { groups: ['x'], count: 1 } };
  assert.equal(mayView(config, { issuer: A, sub: 'req', groups: [] }, item), true);
  assert.equal(mayView(config, { issuer: B, sub: 'req', groups: [] }, item), false, 'same sub, other issuer');
  assert.equal(mayView(config, { issuer: A, sub: 'REQ', groups: [] }, item), false, 'sub compares exactly');
  assert.equal(mayView(config, { issuer: A, sub: 'q', groups: ['x'] }, item), true);
  assert.equal(mayView(config, { issuer: A, sub: 'q', groups: ['root'] }, item), true);
  assert.equal(mayView(config, { issuer: A, sub: 'q', groups: ['y'] }, item), false);
  const legacy = { ...item, requester: { issuer: '', sub: 'req' } };
  assert.equal(mayView(config, { issuer: A, sub: 'req', groups: [] }, legacy), false, 'unknown issuer: admins only');
  assert.equal(mayView(config, { issuer: A, sub: 'q', groups: ['root'] }, legacy), true);
});

test('withDefaultApprovers falls back to the admins', () => {
  assert.deepEqual(withDefaultApprovers(config, null), { groups: ['root'], count: 1 });
  assert.deepEqual(withDefaultApprovers(config, { groups: [], count: 2 }), { groups: ['root'], count: 2 });
  assert.deepEqual(withDefaultApprovers(config, { groups: ['x'], count: 3 }), { groups: ['x'], count: 3 });
});

test('reviewSettings takes the strictest matched review rule', () => {
  assert.deepEqual(reviewSettings(config, ['r1']), { uses: 3, approvalTtlMs: 2 * 3_600_000 });
  assert.deepEqual(reviewSettings(config, ['r1', 'r2', 'b1']), { uses: 1, approvalTtlMs: 2 * 3_600_000 });
  assert.deepEqual(reviewSettings(config, []), { uses: 1, approvalTtlMs: 3_600_000 });
});

test('jitTerms: the entry allowing the longest grant, null without a JIT entry', () => {
  const a = jitTerms(config, ['a'], 'db');
  assert.equal(a?.maxDurationMs, 4 * 3_600_000);
  assert.deepEqual(a?.approversRequired, { groups: ['x'], count: 2 });
  assert.equal(jitTerms(config, ['c'], 'db'), null, 'standing access is not JIT');
  assert.equal(jitTerms(config, ['a'], 'other'), null);
  const only = configSchema.parse({ access: [{ groups: ['a'], connections: ['db'], jit: true }] });
  assert.equal(jitTerms(only, ['a'], 'db')?.maxDurationMs, DEFAULT_MAX_JIT_MS);
});

test('GrantIndex: expiry at lookup time, local changes survive a concurrent rebuild', async () => {
  const grant = (id: string, sub: string, connection: string, expiresAt: number, issuer = A): AccessRequest => ({
    id,
    issuer,
    sub,
    groups: [],
    connection,
    reason: '',
    durationMs: 1,
    state: 'approved',
    approvals: [],
    approversRequired: { groups: ['x'], count: 1 },
    createdAt: 0,
    decidedAt: 0,
    expiresAt,
  });
  const index = new GrantIndex();
  index.add(grant('g1', 'u', 'db', 100));
  index.add(grant('g2', 'u', 'db', 200));
  assert.deepEqual(index.connections({ issuer: A, sub: 'u' }, 50), ['db']);
  assert.deepEqual(index.connections({ issuer: A, sub: 'u' }, 150), ['db']);
  assert.deepEqual(index.connections({ issuer: A, sub: 'u' }, 200), []);
  index.remove('g2');
  assert.deepEqual(index.connections({ issuer: A, sub: 'u' }, 150), []);

  // The store snapshot predates a local approval made while it was read.
  await index.rebuild(async () => {
    index.add(grant('g3', 'v', 'db', 500));
    return [grant('g4', 'w', 'db', 500)];
  });
  assert.deepEqual(index.connections({ issuer: A, sub: 'v' }, 0), ['db']);
  assert.deepEqual(index.connections({ issuer: A, sub: 'w' }, 0), ['db']);
  assert.deepEqual(index.connections({ issuer: A, sub: 'u' }, 0), [], 'the rebuild replaced stale entries');

  // Keyed by principal: another issuer's same sub holds nothing; a legacy grant (issuer '') is nobody's.
  assert.deepEqual(index.connections({ issuer: B, sub: 'v' }, 0), []);
  index.add(grant('g5', 'z', 'db', 500, ''));
  assert.deepEqual(index.connections({ issuer: A, sub: 'z' }, 0), []);
  assert.deepEqual(index.connections({ issuer: '', sub: 'z' }, 0), []);
});

test('webhook helpers: event filters and signature format', () => {
  const t = { url: 'http://x', format: 'json' as const };
  assert.equal(wantsEvent(t, 'review.created'), true);
  assert.equal(wantsEvent({ ...t, events: ['review.*'] }, 'review.denied'), true);
  assert.equal(wantsEvent({ ...t, events: ['review.*'] }, 'access.requested'), false);
  assert.equal(wantsEvent({ ...t, events: ['access.revoked'] }, 'access.revoked'), true);
  assert.match(signBody('k', '{}'), /^sha256=[0-9a-f]{64}$/);
  assert.notEqual(signBody('k', '{}'), signBody('k2', '{}'));
});
