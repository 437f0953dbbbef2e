import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, configSchema, type WardenConfig } from '../../../src/config/index.js';
import { Policy } from '../../../src/policy/index.js';
import { commandOp, httpOp, identity, sqlOp } from './ops.js';

function config(partial: Record<string, unknown>): WardenConfig {
  return configSchema.parse({
    connections: {
      shop: { type: 'postgres' },
      analytics: { type: 'postgres' },
      api: { type: 'http', url: 'https://api.test' },
      box: { type: 'ssh', hostKey: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    },
    ...partial,
  });
}

const agent = identity('agent-1', ['agents']);
const dba = identity('alice', ['dba']);
const oncall = identity('bob', ['oncall']);
const stranger = identity('eve', ['visitors']);

describe('access', () => {
  const policy = new Policy(
    config({
      access: [
        { groups: ['agents'], connections: ['shop', 'api', 'box'] },
        { groups: ['oncall'], connections: ['shop'], jit: true },
        { groups: ['dba'], connections: ['shop', 'analytics'] },
      ],
    }),
  );

  it('denies by default: no entry, wrong connection, unknown connection', () => {
    const d = policy.decide(sqlOp(stranger, 'select 1'));
    assert.equal(d.effect, 'block');
    assert.deepEqual(d.rules, []);
    assert.equal(d.reasons[0]?.code, 'no-access-grant');
    assert.equal(policy.decide(sqlOp(agent, 'select 1', {}, 'analytics')).effect, 'block');
    assert.equal(policy.access(dba, 'nowhere').granted, false);
    assert.equal(policy.decide(sqlOp(dba, 'select 1', {}, 'analytics')).effect, 'allow');
  });

  it('grants standing access and says which entry', () => {
    const a = policy.access(dba, 'shop');
    assert.deepEqual([a.granted, a.jit, a.via, a.reason.code], [true, false, 'access[2]', 'access-granted']);
  });

  it('jit entries grant nothing without an active grant', () => {
    const none = policy.access(oncall, 'shop');
    assert.deepEqual([none.granted, none.jit, none.reason.code], [false, true, 'no-access-grant']);
    assert.equal(policy.access(oncall, 'shop', { jitGrants: ['analytics'] }).granted, false);
    const granted = policy.access(oncall, 'shop', { jitGrants: ['shop'] });
    assert.deepEqual([granted.granted, granted.jit, granted.reason.code], [true, true, 'jit-grant']);
    assert.equal(policy.decide(sqlOp(oncall, 'select 1')).effect, 'block');
    const d = policy.decide(sqlOp(oncall, 'select 1'), { jitGrants: ['shop'] });
    assert.equal(d.effect, 'allow');
    assert.equal(d.reasons[0]?.code, 'jit-grant');
  });
});

describe('rules', () => {
  const rules = [
    {
      name: 'no-ddl',
      when: "op.kind == 'sql' && op.sql.kinds.exists(k, k in ['drop', 'truncate'])",
      action: 'block',
      message: 'no DDL',
    },
    {
      name: 'writes-review',
      when: "op.kind == 'sql' && op.sql.writes && !op.sql.allWritesFiltered",
      action: 'review',
      approvers: { groups: ['dba'], count: 1 },
      hold: '30s',
    },
    {
      name: 'big-writes-review',
      when: "op.kind == 'sql' && op.sql.writes && 'orders' in op.sql.writtenTables",
      action: 'review',
      approvers: { groups: ['leads'], count: 2 },
    },
    {
      name: 'agents-mask-select',
      groups: ['agents'],
      when: "op.kind == 'sql' && 'select' in op.sql.kinds",
      action: 'mask',
    },
    { name: 'analytics-only', connections: ['analytics'], when: 'true', action: 'block', message: 'read-only' },
    { name: 'note-selects', when: "op.kind == 'sql' && 'select' in op.sql.kinds", action: 'allow' },
  ];
  const policy = new Policy(
    config({
      access: [{ groups: ['agents', 'dba'], connections: ['shop', 'analytics', 'api', 'box'] }],
      rules,
    }),
  );

  it('most restrictive wins and every matched rule is listed with a reason', () => {
    const d = policy.decide(
      sqlOp(dba, 'update orders set x = 1; drop table t', {
        kinds: ['update', 'drop'],
        writes: true,
        allWritesFiltered: false,
        writtenTables: ['orders'],
      }),
    );
    assert.equal(d.effect, 'block');
    assert.deepEqual(d.rules, ['no-ddl', 'writes-review', 'big-writes-review']);
    const ruleReasons = d.reasons.filter((r) => r.code === 'rule-matched');
    assert.deepEqual(
      ruleReasons.map((r) => r.rule),
      ['no-ddl', 'writes-review', 'big-writes-review'],
    );
    assert.equal(ruleReasons[0]?.message, 'no DDL');
    assert.equal(d.review, null, 'a blocked operation has no review requirement');
  });

  it('several review rules: max count, union of approver groups, longest hold', () => {
    const d = policy.decide(
      sqlOp(dba, 'update orders set x = 1', {
        kinds: ['update'],
        writes: true,
        allWritesFiltered: false,
        writtenTables: ['orders'],
      }),
    );
    assert.equal(d.effect, 'review');
    assert.deepEqual(d.review, { groups: ['dba', 'leads'], count: 2, holdMs: 30_000 });
    const one = policy.decide(
      sqlOp(dba, 'delete from t', { kinds: ['delete'], writes: true, allWritesFiltered: false }),
    );
    assert.deepEqual(one.review, { groups: ['dba'], count: 1, holdMs: 30_000 });
  });

  it('review beats mask, mask beats allow', () => {
    const reviewAndMask = policy.decide(
      sqlOp(agent, 'with x as (delete from t) select 1', {
        kinds: ['select', 'delete'],
        writes: true,
        allWritesFiltered: false,
      }),
    );
    assert.equal(reviewAndMask.effect, 'review');
    assert.deepEqual(reviewAndMask.rules, ['writes-review', 'agents-mask-select', 'note-selects']);
    const mask = policy.decide(sqlOp(agent, 'select 1'));
    assert.equal(mask.effect, 'mask');
    assert.ok(mask.masking);
  });

  it('scopes rules by group', () => {
    const d = policy.decide(sqlOp(dba, 'select 1'));
    assert.equal(d.effect, 'allow');
    assert.deepEqual(d.rules, ['note-selects']);
    assert.equal(d.masking, null);
  });

  it('scopes rules by connection', () => {
    assert.equal(policy.decide(sqlOp(dba, 'select 1', {}, 'analytics')).effect, 'block');
    assert.deepEqual(policy.decide(sqlOp(dba, 'select 1', {}, 'analytics')).rules, ['analytics-only', 'note-selects']);
    assert.deepEqual(policy.decide(sqlOp(dba, 'select 1', {}, 'shop')).rules, ['note-selects']);
  });

  it('facts of other kinds evaluate safely on http and command operations', () => {
    const h = policy.decide(httpOp(dba, 'DELETE', '/orders/1'));
    assert.equal(h.effect, 'allow');
    assert.deepEqual(h.rules, []);
    const c = policy.decide(commandOp(agent, ['rm', '-rf', '/']));
    assert.equal(c.effect, 'allow');
    // unguarded sql fields on a non-SQL op read as empty facts, not errors
    const p = new Policy(
      config({
        access: [{ groups: ['dba'], connections: ['api'] }],
        rules: [
          {
            name: 'bare-unparsed',
            when: '!op.sql.parsed || op.sql.writes || op.sql.kinds.size() > 0',
            action: 'block',
          },
          { name: 'k8s-empty', when: "op.k8s.verb == 'delete' || op.command.argv.size() > 0", action: 'block' },
          {
            name: 'http-delete',
            when: "op.kind == 'http' && op.http.method == 'DELETE' && op.http.json.a == 1.0",
            action: 'review',
            approvers: { groups: ['dba'] },
          },
        ],
      }),
    );
    const d = p.decide(httpOp(dba, 'DELETE', '/x'));
    assert.equal(d.effect, 'review');
    assert.deepEqual(d.rules, ['http-delete']);
  });

  it('a rule that errors at evaluation blocks (fail closed) with policy-error', () => {
    const p = new Policy(
      config({
        access: [{ groups: ['agents'], connections: ['api'] }],
        rules: [
          { name: 'needs-header', when: "op.http.headers['x-ticket'] == 'T-1'", action: 'allow' },
          { name: 'not-bool', when: 'op.text', action: 'allow' },
          { name: 'divide', when: '1 / (size(op.text) - size(op.text)) == 1', action: 'allow' },
        ],
      }),
    );
    const d = p.decide(httpOp(agent, 'GET', '/'));
    assert.equal(d.effect, 'block');
    assert.deepEqual(d.rules, ['needs-header', 'not-bool', 'divide']);
    const errors = d.reasons.filter((r) => r.code === 'policy-error');
    assert.deepEqual(
      errors.map((r) => r.rule),
      ['needs-header', 'not-bool', 'divide'],
    );
    assert.match(errors[1]?.message ?? '', /not a boolean/);
  });

  it('identity, connection and now are available to rules', () => {
    const p = new Policy(
      config({
        access: [{ groups: ['agents'], connections: ['shop'] }],
        rules: [
          {
            name: 'ctx',
            when: "identity.sub == 'agent-1' && identity.claims.team == 'x' && connection.name == 'shop' && connection.type == 'postgres' && now.getHours() == 12 && identity.issuer.startsWith('https://')",
            action: 'block',
          },
        ],
      }),
    );
    assert.equal(p.decide(sqlOp(identity('agent-1', ['agents'], { team: 'x' }), 'select 1')).effect, 'block');
    assert.equal(p.decide(sqlOp(identity('agent-1', ['agents'], { team: 'y' }), 'select 1')).effect, 'allow');
  });

  it('explain prints the effect and every reason', () => {
    const d = policy.decide(sqlOp(dba, 'drop table t', { kinds: ['drop'] }));
    const text = policy.explain(d);
    assert.match(text, /^effect: block/);
    assert.match(text, /rule-matched \[no-ddl\]: no DDL/);
    assert.match(text, /rules matched: no-ddl/);
  });
});

describe('compile errors at load', () => {
  it('names the rule and the unknown field', () => {
    assert.throws(
      () =>
        new Policy(
          config({
            rules: [
              { name: 'fine', when: "op.kind == 'sql'", action: 'block' },
              { name: 'typo', when: "op.sql.kindz.exists(k, k == 'drop')", action: 'block' },
              { name: 'bad-var', when: "opp.kind == 'sql' && nosuchfn(1)", action: 'block' },
              { name: 'bad-syntax', when: 'op.kind ==', action: 'block' },
            ],
          }),
        ),
      (e) => {
        assert.ok(e instanceof ConfigError);
        const text = e.issues.map((i) => `${i.path}: ${i.message}`);
        assert.ok(text.includes("rules[1].when: unknown field 'op.sql.kindz' (rule 'typo')"), text.join('\n'));
        assert.ok(text.some((t) => /^rules\[2\]\.when: unknown variable 'opp'/.test(t)));
        assert.ok(text.some((t) => /^rules\[2\]\.when: unknown function 'nosuchfn'/.test(t)));
        assert.ok(text.some((t) => /^rules\[3\]\.when: syntax error/.test(t)));
        assert.ok(!text.some((t) => t.startsWith('rules[0]')));
        return true;
      },
    );
  });

  it('allows comprehension variables, open maps and has()', () => {
    const p = new Policy(
      config({
        rules: [
          {
            name: 'ok',
            when: "op.sql.tables.all(op, op != 'secrets') && has(identity.claims.email) && op.http.query.page == '1' && 'x-a' in op.http.headers",
            action: 'allow',
          },
        ],
      }),
    );
    assert.deepEqual(p.ruleNames, ['ok']);
  });
});

describe('masking plan', () => {
  const policy = new Policy(
    config({
      access: [{ groups: ['agents', 'dba', 'support', 'auditors'], connections: ['shop', 'analytics'] }],
      masking: [
        { connections: ['shop'], columns: ['Email', 'ssn'], detect: ['email'], unmaskedFor: ['dba'] },
        { connections: ['shop', 'analytics'], groups: ['support'], columns: ['phone'], detect: ['phone'] },
      ],
      rules: [{ name: 'always-mask-audits', groups: ['auditors'], when: "op.kind == 'sql'", action: 'mask' }],
    }),
  );

  it('applies entries to everyone unless unmaskedFor; groups narrows an entry', () => {
    assert.deepEqual(policy.maskPlan(agent, 'shop'), { columns: ['email', 'ssn'], detect: ['email'] });
    assert.equal(policy.maskPlan(dba, 'shop'), null);
    assert.deepEqual(policy.maskPlan(identity('s', ['support']), 'shop'), {
      columns: ['email', 'ssn', 'phone'],
      detect: ['email', 'phone'],
    });
    assert.deepEqual(policy.maskPlan(identity('s', ['support', 'dba']), 'shop'), {
      columns: ['phone'],
      detect: ['phone'],
    });
    assert.equal(policy.maskPlan(agent, 'analytics'), null);
  });

  it('decide: effect mask with the plan and a masking-applies reason; clear for dba', () => {
    const d = policy.decide(sqlOp(agent, 'select email from customers'));
    assert.equal(d.effect, 'mask');
    assert.deepEqual(d.masking, { columns: ['email', 'ssn'], detect: ['email'] });
    assert.ok(d.reasons.some((r) => r.code === 'masking-applies'));
    assert.equal(policy.decide(sqlOp(dba, 'select email from customers')).effect, 'allow');
  });

  it('a mask rule forces masking even for unmaskedFor groups', () => {
    const d = policy.decide(sqlOp(identity('a', ['auditors', 'dba']), 'select email from customers'));
    assert.equal(d.effect, 'mask');
    assert.deepEqual(d.rules, ['always-mask-audits']);
    assert.deepEqual(d.masking, { columns: ['email', 'ssn'], detect: ['email'] });
    // no masking entry for the connection: every content detector
    const a = policy.decide(sqlOp(identity('a', ['auditors']), 'select 1', {}, 'analytics'));
    assert.deepEqual(a.masking?.detect, ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret']);
  });
});

describe('rule lookup', () => {
  it('returns the rule config by name for approvals (uses, approvalTtl)', () => {
    const p = new Policy(
      config({
        rules: [
          { name: 'r', when: 'true', action: 'review', approvers: { groups: ['dba'] }, uses: 3, approvalTtl: '10m' },
        ],
      }),
    );
    assert.equal(p.rule('r')?.uses, 3);
    assert.equal(p.rule('r')?.approvalTtl, '10m');
    assert.equal(p.rule('nope'), undefined);
  });
});
