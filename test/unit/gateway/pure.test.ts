import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../../src/core/duration.js';
import { ERRORS, isWardenError, WardenError } from '../../../src/core/errors.js';
import { newId } from '../../../src/core/ids.js';
import type { Decision, Identity } from '../../../src/core/types.js';
import { parseHttpInput } from '../../../src/gateway/http-input.js';
import { operationHash } from '../../../src/gateway/operation-hash.js';
import { refusalMessage, winningReason } from '../../../src/gateway/verdict.js';

const alice: Identity = { sub: 'alice', issuer: 'https://idp', groups: ['agents'], claims: {}, expiresAt: 0 };

describe('error catalogue', () => {
  it('every code has a distinct, non-empty message and WardenError keeps the code', () => {
    const messages = Object.values(ERRORS);
    assert.equal(new Set(messages).size, messages.length);
    for (const [code, message] of Object.entries(ERRORS)) {
      assert.match(code, /^WARDEN_[A-Z_]+$/);
      assert.ok(message.length > 0);
      const e = new WardenError(code as keyof typeof ERRORS);
      assert.equal(e.message, message);
      assert.ok(isWardenError(e, code as keyof typeof ERRORS));
    }
  });
});

describe('durations and ids', () => {
  it('parses and formats durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.throws(() => parseDuration('soon'), TypeError);
    assert.equal(formatDuration(1_800_000), '30m');
    assert.equal(formatDuration(1500), '1500ms');
  });
  it('ids are prefixed, sortable by time and unique', () => {
    const a = newId('op', 1000);
    const b = newId('op', 2000);
    assert.match(a, /^op_[0-9a-f]{20}$/);
    assert.ok(a < b);
    const many = new Set(Array.from({ length: 5000 }, () => newId('x', 5)));
    assert.equal(many.size, 5000);
  });
});

describe('operation hash', () => {
  const base = {
    kind: 'sql' as const,
    text: 'DELETE FROM orders',
    connection: { name: 'shop', type: 'postgres' as const },
    identity: alice,
  };
  it('covers exactly one operation for one identity on one connection', () => {
    const h = operationHash(base);
    assert.equal(h, operationHash({ ...base }));
    assert.notEqual(h, operationHash({ ...base, text: 'DELETE FROM orders WHERE true' }));
    assert.notEqual(h, operationHash({ ...base, identity: { ...alice, sub: 'bob' } }));
    assert.notEqual(h, operationHash({ ...base, connection: { name: 'other', type: 'postgres' } }));
    assert.notEqual(h, operationHash({ ...base, identity: { ...alice, issuer: 'https://other' } }));
  });
});

describe('refusal messages', () => {
  const decision = (effect: Decision['effect'], reasons: Decision['reasons']): Decision => ({
    effect,
    rules: reasons.flatMap((r) => (r.rule ? [r.rule] : [])),
    reasons,
    masking: null,
    review: null,
  });
  it('names the rule whose action won, not merely the first that matched', () => {
    const d = decision('block', [
      { code: 'access-granted', message: 'granted by access[0]' },
      { code: 'rule-matched', rule: 'mask-it', message: 'masked' },
      { code: 'rule-matched', rule: 'no-ddl', message: 'schema changes are not allowed' },
    ]);
    const actions: Record<string, Decision['effect']> = { 'mask-it': 'mask', 'no-ddl': 'block' };
    const w = winningReason(d, (r) => actions[r]);
    assert.equal(w?.rule, 'no-ddl');
    assert.equal(refusalMessage(d, w), 'blocked by rule no-ddl: schema changes are not allowed');
  });
  it('review messages start with "approval required" and name the review', () => {
    const d = decision('review', [{ code: 'rule-matched', rule: 'writes', effect: 'review', message: 'needs a DBA' }]);
    assert.match(
      refusalMessage(
        d,
        winningReason(d, () => undefined),
        'r_123',
      ),
      /^approval required: review r_123 \(rule writes: needs a DBA\)/,
    );
  });
  it('no access grant and expired identities read as such', () => {
    const none = decision('block', [
      { code: 'no-access-grant', effect: 'block', message: "no access grant for 'shop'" },
    ]);
    assert.equal(
      refusalMessage(
        none,
        winningReason(none, () => undefined),
      ),
      "blocked: no access grant for 'shop'",
    );
    const expired = decision('block', [
      { code: 'identity-expired', effect: 'block', message: 'identity token expired at 2026-01-01T00:00:00.000Z' },
    ]);
    assert.match(
      refusalMessage(
        expired,
        winningReason(expired, () => undefined),
      ),
      /^session ended: identity token expired/,
    );
  });
});

describe('HTTP input for policy tests', () => {
  it('splits method, path, query and a JSON body', () => {
    const h = parseHttpInput('post /v1/users?id=1&id=2&x=y {"role":"admin"}');
    assert.equal(h.method, 'POST');
    assert.equal(h.path, '/v1/users');
    assert.deepEqual(h.query, { id: ['1', '2'], x: 'y' });
    assert.deepEqual(h.json, { role: 'admin' });
    assert.equal(parseHttpInput('GET /health not-json').json, null);
  });
});
