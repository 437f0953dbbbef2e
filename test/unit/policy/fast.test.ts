// The fast path must give exactly the reference evaluator's answer whenever it answers at all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCelError } from '@bufbuild/cel';
import type { Operation } from '../../../src/core/types.js';
import { Activation } from '../../../src/policy/activation.js';
import { compileCondition } from '../../../src/policy/cel.js';
import { BAIL } from '../../../src/policy/fast.js';
import { commandOp, httpOp, identity, sqlOp } from './ops.js';

const EXPRESSIONS = [
  "op.kind == 'sql'",
  "op.kind != 'http' && !op.sql.parsed",
  "op.sql.kinds.exists(k, k in ['drop', 'truncate', 'alter'])",
  "op.sql.kinds.all(k, k == 'select')",
  "op.sql.kinds.exists_one(k, k == 'select')",
  "op.sql.tables.filter(t, t.startsWith('pub')).size() > 0",
  "op.sql.tables.map(t, t + '!').exists(t, t.endsWith('s!'))",
  "size(op.sql.functions) >= 2 || 'dblink' in op.sql.functions",
  'op.sql.writes && !op.sql.allWritesFiltered',
  "'set_role' in op.sql.kinds || op.sql.settings.exists(s, s in ['role', '*'])",
  "op.sql.kinds[0] == 'select'",
  "op.sql.kinds[5] == 'select'",
  "op.text.contains('DROP') ? op.kind == 'sql' : false",
  'size(op.text) == 9',
  "op.http.method == 'DELETE' && op.http.path.startsWith('/orders')",
  "op.http.headers['x-ticket'] == 'T-1'",
  "'x-ticket' in op.http.headers && op.http.headers['x-ticket'] == 'T-1'",
  'has(op.http.headers.authorization)',
  'op.http.json.count > 2',
  "op.http.json.name == 'bob'",
  "op.http.json.tags.exists(t, t == 'vip')",
  "op.http.query.page == '2'",
  'op.http.json.count == 3',
  'op.http.json == null',
  "identity.groups.exists(g, g == 'agents') && identity.claims.team == 'red'",
  'identity.claims.level > 2',
  'identity.claims.tags.size() == 2',
  "'night' in identity.groups && now.getHours() < 6",
  "now.getHours() == 12 || op.kind == 'sql'",
  "connection.name == 'shop' && connection.type == 'postgres'",
  "op.command.argv.exists(a, a == '-rf') && op.command.argv[0] == 'rm'",
  "op.k8s.verb == 'delete' || op.k8s.command.size() > 0",
  "op.session.id == 's_1'",
  'op.http.json.tags.size() + 1 == 3',
  'op.sql.tables.exists(t, op.sql.writtenTables.exists(w, w == t))',
  "[op.kind, connection.name] == ['sql', 'shop']",
  'op.sql.kinds.size() == 1u',
  "op.text.matches('^select')",
  'op.http.json.tags.exists(t, t == 1)',
  "op.http.json.flag || op.kind == 'http'",
  "op.kind in {'sql': 1, 'http': 2}",
];

const who = identity('agent-1', ['agents'], { team: 'red', level: 3, tags: ['a', 'b'] });
const night = identity('n', ['night'], {});
function withJson(op: Operation): Operation {
  if (op.kind !== 'http') return op;
  return {
    ...op,
    http: {
      ...op.http,
      query: { page: '2' },
      headers: { authorization: 'Bearer x', 'x-ticket': 'T-1' },
      json: { count: 3, name: 'bob', tags: ['vip', 'new'], flag: false },
    },
  };
}
const OPS: Operation[] = [
  sqlOp(who, 'select 1', { kinds: ['select'], tables: ['public.customers'] }),
  sqlOp(who, 'DROP TABLE t; select 1', {
    kinds: ['drop', 'select'],
    functions: ['dblink', 'now'],
    multiStatement: true,
  }),
  sqlOp(who, 'update t set x = 1', {
    kinds: ['update'],
    writes: true,
    allWritesFiltered: false,
    tables: ['orders'],
    writtenTables: ['orders'],
  }),
  sqlOp(night, 'garbage', { kinds: ['unparsed'], parsed: false, settings: ['*'] }),
  httpOp(who, 'DELETE', '/orders/1'),
  withJson(httpOp(who, 'GET', '/orders')),
  withJson(httpOp(night, 'POST', '/x')),
  commandOp(who, ['rm', '-rf', '/']),
];

describe('fast path agrees with @bufbuild/cel', () => {
  it('on every expression × operation where it answers, and answers most of them', () => {
    let answered = 0;
    let total = 0;
    for (const source of EXPRESSIONS) {
      const compiled = compileCondition(source);
      assert.ok(compiled.ok, `${source}: ${compiled.ok ? '' : compiled.errors.join('; ')}`);
      const { program, fast } = compiled.condition;
      const activation = new Activation(true);
      for (const op of OPS) {
        total++;
        activation.load(op);
        const ref = program(activation.vars);
        if (fast === null) continue;
        activation.loadFast(op);
        let got: boolean | typeof BAIL;
        try {
          got = fast(activation.fast);
        } catch (e) {
          assert.equal(e, BAIL, `${source} on ${op.text}: fast path threw ${String(e)}`);
          got = BAIL;
        }
        if (got === BAIL) continue;
        answered++;
        assert.ok(!isCelError(ref), `${source} on ${op.text}: fast said ${got}, CEL said ${String(ref)}`);
        assert.equal(got, ref, `${source} on ${op.text}`);
      }
    }
    assert.ok(answered / total > 0.6, `fast path answered only ${answered}/${total}`);
  });

  it('parts outside the subset bail only when reached', () => {
    const compiled = compileCondition("'night' in identity.groups && now.getHours() < 6");
    assert.ok(compiled.ok && compiled.condition.fast);
    const activation = new Activation(true);
    activation.loadFast(sqlOp(who, 'select 1'));
    assert.equal(compiled.condition.fast(activation.fast), false);
    activation.loadFast(sqlOp(night, 'select 1'));
    assert.throws(
      () => compiled.ok && compiled.condition.fast?.(activation.fast),
      (e) => e === BAIL,
    );
  });
});
