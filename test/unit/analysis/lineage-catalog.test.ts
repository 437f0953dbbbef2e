// The PostgreSQL catalog as lineage sees it (src/protocols/postgres/lineage-catalog.ts): views
// traced through their definitions (views over views), unqualified names as the default search
// path finds them, and when the catalog is read again (a relation it does not know, a view read
// through an old catalog). Rows in the shape of its two catalog queries; the real queries run in
// test/integration/postgres-lineage.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initAnalysis, lineageWithCatalog } from '../../../src/analysis/index.js';
import { LineageCatalogs } from '../../../src/protocols/postgres/lineage-catalog.js';
import { alignOutputs } from '../../../src/protocols/postgres/lineage-plan.js';

before(() => initAnalysis());

const CUSTOMERS = JSON.stringify(['id', 'name', 'email', 'ssn']);
const RELATIONS: (string | null)[][] = [
  ['public', 'customers', 'r', CUSTOMERS, null],
  [
    'public',
    'v',
    'v',
    JSON.stringify(['id', 'contact']),
    ' SELECT customers.id,\n    customers.email AS contact\n   FROM customers;',
  ],
  ['public', 'vv', 'v', JSON.stringify(['shout']), ' SELECT upper(v.contact) AS shout\n   FROM v;'],
  ['public', 'odd', 'v', JSON.stringify(['x']), ' SELECT all_emails() AS x;'],
  ['pg_catalog', 'pg_stat_activity', 'v', JSON.stringify(['pid', 'query']), null],
];

function catalogs(rows = RELATIONS, now = () => 0) {
  const queries: string[] = [];
  const c = new LineageCatalogs(
    async (sql) => {
      queries.push(sql);
      return sql.includes('pg_proc') ? [['all_emails']] : rows;
    },
    () => {},
    now,
  );
  return { c, queries };
}

describe('lineage catalog', () => {
  it('traces views, views over views, and marks a view over a user function unresolved', async () => {
    const { c } = catalogs();
    const catalog = await c.get();
    assert.deepEqual(catalog.relation('v')?.sources, [['public.customers.id'], ['public.customers.email']]);
    assert.deepEqual(catalog.relation('public.vv')?.sources, [['public.customers.email']]);
    assert.deepEqual(catalog.relation('odd')?.unresolved, [true]);
    assert.equal(catalog.isView('public.v'), true);
    assert.equal(catalog.isView('public.customers'), false);
    // pg_catalog views are not traced (their columns are matched by source, e.g. pg_stat_activity.query).
    assert.equal(catalog.isView('pg_catalog.pg_stat_activity'), false);
    assert.deepEqual(lineageWithCatalog("SELECT shout || '' FROM vv", catalog)?.[0]?.outputs?.[0]?.sources, [
      'public.customers.email',
    ]);
  });

  it('is read again for a relation it does not know, at most every few seconds per name', async () => {
    let now = 0;
    const { c, queries } = catalogs(RELATIONS, () => now);
    await c.get();
    assert.equal(queries.length, 2);
    assert.ok(c.cached(['customers']));
    assert.equal(c.cached(['public.newview']), null);
    await c.get(['public.newview']);
    assert.equal(queries.length, 4);
    assert.ok(c.cached(['public.newview']), 'a name still missing after a reload is not reloaded at once');
    now = 10_000;
    assert.equal(c.cached(['public.newview']), null);
  });

  it('a statement reading a view is planned with a catalog at most 2 s old', async () => {
    let now = 0;
    const { c } = catalogs(RELATIONS, () => now);
    await c.get();
    now = 1_000;
    assert.ok(c.cached(['public.v']));
    now = 3_000;
    assert.equal(c.cached(['public.v']), null);
    assert.ok(c.cached(['public.customers']), 'tables do not expire');
  });

  it('a catalog that cannot be read is symbolic and retried', async () => {
    let now = 0;
    const c = new LineageCatalogs(
      async () => {
        throw new Error('down');
      },
      () => {},
      () => now,
    );
    const catalog = await c.get();
    assert.equal(catalog.complete, false);
    now = 10_000;
    assert.equal(c.cached([]), null);
  });
});

describe('lining outputs up with a RowDescription', () => {
  const o = (name: string, star = false) => ({ name, sources: [], unresolved: false, ...(star ? { star } : {}) });
  it('one-to-one, one * of unknown width, or not at all', () => {
    assert.equal(alignOutputs([o('a'), o('b')], 2)?.length, 2);
    assert.equal(alignOutputs([o('a'), o('b')], 3), null);
    const star = alignOutputs([o('a'), o('t.*', true), o('b')], 5);
    assert.deepEqual(
      star?.map((x) => x?.name),
      ['a', 't.*', 't.*', 't.*', 'b'],
    );
    assert.equal(alignOutputs([o('s.*', true), o('t.*', true)], 5), null);
    assert.equal(alignOutputs(null, 1), null);
  });
});
