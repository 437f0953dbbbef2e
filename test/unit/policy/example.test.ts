// The shipped examples/warden.yaml behaves as its comments say.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../../src/config/index.js';
import { Policy } from '../../../src/policy/index.js';
import { identity, sqlOp } from './ops.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/warden.yaml', import.meta.url));

describe('example policy', () => {
  let policy: Policy;
  const agent = identity('agent-7', ['agents']);
  const dba = identity('alice', ['dba']);

  before(async () => {
    const env = process.env.SHOP_DB_PASSWORD;
    process.env.SHOP_DB_PASSWORD = 'pw-for-tests';
    try {
      policy = new Policy((await loadConfigFile(EXAMPLE)).config);
    } finally {
      if (env === undefined) delete process.env.SHOP_DB_PASSWORD;
      else process.env.SHOP_DB_PASSWORD = env;
    }
  });

  const blockedBy = (text: string, facts: Parameters<typeof sqlOp>[2]) => {
    const d = policy.decide(sqlOp(agent, text, facts));
    assert.equal(d.effect, 'block', text);
    return d.rules;
  };

  it('blocks unparsed SQL, DDL, server-side COPY, dangerous functions and role changes', () => {
    assert.deepEqual(blockedBy('selec 1', { kinds: ['unparsed'], parsed: false }), ['block-unparsed-sql']);
    assert.deepEqual(blockedBy('drop table customers', { kinds: ['drop'] }), ['no-ddl']);
    assert.deepEqual(blockedBy("copy t to program 'sh'", { kinds: ['copy'], copyProgram: true }), [
      'no-server-side-copy',
    ]);
    assert.deepEqual(blockedBy("copy t from '/etc/passwd'", { kinds: ['copy'], serverFile: true, writes: true }), [
      'no-server-side-copy',
    ]);
    assert.deepEqual(blockedBy("select pg_read_file('/etc/passwd')", { functions: ['pg_read_file'] }), [
      'no-dangerous-functions',
    ]);
    assert.deepEqual(blockedBy('set role postgres', { kinds: ['set_role'], settings: ['role'] }), ['no-role-change']);
    assert.deepEqual(
      blockedBy("select set_config('role', 'x', false)", { functions: ['set_config'], settings: ['role'] }),
      ['no-role-change'],
    );
  });

  it('sends unbounded agent writes to review by a dba, held 2 minutes', () => {
    const d = policy.decide(
      sqlOp(agent, 'delete from orders', { kinds: ['delete'], writes: true, allWritesFiltered: false }),
    );
    assert.equal(d.effect, 'review');
    assert.deepEqual(d.review, { groups: ['dba'], count: 1, holdMs: 120_000 });
    const filtered = policy.decide(
      sqlOp(agent, 'delete from orders where id = 1', { kinds: ['delete'], writes: true }),
    );
    assert.equal(filtered.effect, 'mask');
    assert.equal(
      policy.decide(sqlOp(dba, 'delete from orders', { kinds: ['delete'], writes: true, allWritesFiltered: false }))
        .effect,
      'allow',
    );
  });

  it('masks customer PII for agents, not for dba; oncall needs a JIT grant', () => {
    const d = policy.decide(sqlOp(agent, 'select * from customers'));
    assert.equal(d.effect, 'mask');
    assert.deepEqual(d.masking?.columns, ['email', 'phone', 'ssn', 'card_number']);
    assert.ok(d.masking?.detect.includes('credit_card'));
    assert.equal(policy.decide(sqlOp(dba, 'select * from customers')).masking, null);
    const oncall = identity('bob', ['oncall']);
    assert.equal(policy.decide(sqlOp(oncall, 'select 1')).effect, 'block');
    assert.equal(policy.decide(sqlOp(oncall, 'select 1'), { jitGrants: ['shop'] }).effect, 'mask');
  });
});
