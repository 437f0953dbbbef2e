// Column lineage over libpg-query's tree (src/analysis/lineage.ts): every bypass of issue 15 and
// the constructs it names, with and without a catalog; what only counts or tests; filter columns;
// fail-closed answers for what lineage cannot see into.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  analyzePostgres,
  type CatalogRelation,
  initAnalysis,
  type LineageCatalog,
  lineageOfFacts,
  lineageWithCatalog,
  type StatementLineage,
} from '../../../src/analysis/index.js';
import { compileMasker, maskedOutputNames, outputIsMasked } from '../../../src/masking/index.js';

before(() => initAnalysis());

const MASKER = compileMasker({ columns: ['email', 'phone', 'ssn', 'card_number'], detect: [] });

function lineage(sql: string): readonly StatementLineage[] {
  const l = lineageOfFacts(analyzePostgres(sql).facts);
  assert.ok(l, `no lineage for ${sql}`);
  return l;
}

/** Sources of each output column of the (only) statement. */
function sources(sql: string, catalog?: LineageCatalog): string[][] {
  const l = catalog ? lineageWithCatalog(sql, catalog) : lineage(sql);
  assert.ok(l && l.length === 1, sql);
  const outputs = l[0]!.outputs;
  assert.ok(outputs, `untraced: ${sql}`);
  return outputs.map((o) => [...o.sources]);
}

function masked(sql: string, catalog?: LineageCatalog): boolean[] {
  const l = catalog ? lineageWithCatalog(sql, catalog) : lineage(sql);
  assert.ok(l);
  return (l[0]!.outputs ?? []).map((o) => outputIsMasked(o, MASKER));
}

function filters(sql: string): string[] {
  return [...analyzePostgres(sql).facts.filterColumns];
}

/** A catalog with the shop tables, a view over customers and a view over that view. */
const CATALOG: LineageCatalog = (() => {
  const customers = ['id', 'name', 'email', 'phone', 'ssn', 'card_number', 'notes', 'created_at'];
  const orders = ['id', 'customer_id', 'amount', 'status', 'created_at'];
  const relations = new Map<string, CatalogRelation>();
  const table = (name: string, columns: string[]) => {
    const r = { qualified: `public.${name}`, columns };
    relations.set(name, r);
    relations.set(`public.${name}`, r);
  };
  table('customers', customers);
  table('orders', orders);
  const v = {
    qualified: 'public.v',
    columns: ['id', 'contact'],
    sources: [['public.customers.id'], ['public.customers.email']],
  };
  relations.set('v', v);
  relations.set('public.v', v);
  return {
    relation: (name) => relations.get(name),
    isUserFunction: (name) => name === 'all_emails',
  };
})();

describe('lineage: the bypasses of issue 15', () => {
  it('concatenations carry every source', () => {
    assert.deepEqual(sources("SELECT email || '-', '1' || ssn, '0' || card_number, 'x' || phone FROM customers"), [
      ['customers.email'],
      ['customers.ssn'],
      ['customers.card_number'],
      ['customers.phone'],
    ]);
    assert.deepEqual(masked("SELECT card_number || ',' || card_number FROM customers"), [true]);
  });
  it('aggregates (string_agg, array_agg, max) carry their argument', () => {
    assert.deepEqual(sources("SELECT string_agg(card_number, ',') FROM customers"), [['customers.card_number']]);
    assert.deepEqual(masked('SELECT array_agg(phone), max(ssn), min(email) FROM customers'), [true, true, true]);
  });
  it('functions, casts and operators the detectors cannot recognise', () => {
    for (const expr of [
      'substr(email, 1, 3)',
      'reverse(email)',
      "replace(email, '@', ' at ')",
      "encode(convert_to(ssn, 'UTF8'), 'base64')",
      'email::bytea',
      'to_hex(card_number::bigint)',
      "translate(phone, '0123456789', 'abcdefghij')",
      'md5(email)',
      'ascii(substr(ssn, 2, 1)) + 0',
      'CAST(ssn AS varchar(3))',
      'ssn COLLATE "C"',
      'length(email)',
      "position('@' in email)",
      "NULLIF(ssn, 'x')",
      "GREATEST(ssn, '0')",
      'coalesce(null, email)',
      '(email)::text',
    ])
      assert.deepEqual(masked(`SELECT ${expr} FROM customers`), [true], expr);
  });
  it('one digit per row through generate_series / LATERAL', () => {
    assert.deepEqual(masked('SELECT substr(c.ssn, g, 1) FROM customers c, generate_series(1, 11) g'), [true]);
    assert.deepEqual(masked('SELECT d FROM customers c CROSS JOIN LATERAL (SELECT substr(c.ssn, 1, 3) AS d) x'), [
      true,
    ]);
    assert.deepEqual(masked('SELECT g FROM customers c, LATERAL generate_series(1, length(c.ssn)) g'), [true]);
  });
});

describe('lineage: the constructs', () => {
  it('CASE results carry, CASE conditions are filters', () => {
    const sql = "SELECT CASE WHEN ssn LIKE '5%' THEN 'a' ELSE name END FROM customers";
    assert.deepEqual(sources(sql), [['customers.name']]);
    assert.deepEqual(filters(sql), ['customers.ssn']);
    assert.deepEqual(masked('SELECT CASE WHEN id = 1 THEN email END FROM customers'), [true]);
  });
  it('scalar and ARRAY subqueries carry; EXISTS tests', () => {
    assert.deepEqual(sources('SELECT (SELECT max(email) FROM customers)'), [['customers.email']]);
    assert.deepEqual(sources('SELECT ARRAY(SELECT ssn FROM customers)'), [['customers.ssn']]);
    const sql = "SELECT EXISTS (SELECT 1 FROM customers WHERE ssn LIKE '5%')";
    assert.deepEqual(sources(sql), [[]]);
    assert.deepEqual(filters(sql), ['customers.ssn']);
  });
  it('CTEs, renamed CTE columns and recursive CTEs', () => {
    assert.deepEqual(sources('WITH e AS (SELECT email AS m FROM customers) SELECT upper(m) FROM e'), [
      ['customers.email'],
    ]);
    assert.deepEqual(sources('WITH e(x) AS (SELECT email FROM customers) SELECT x FROM e'), [['customers.email']]);
    const rec =
      'WITH RECURSIVE r(n, s) AS (SELECT 1, name FROM customers UNION ALL SELECT n + 1, s || ssn FROM r JOIN customers ON true WHERE n < 3) SELECT n, s FROM r';
    const [n, s] = masked(rec, CATALOG);
    assert.equal(n, false);
    assert.equal(s, true);
    assert.deepEqual(sources(rec, CATALOG)[1], ['public.customers.name', 'public.customers.ssn']);
  });
  it('UNION / INTERSECT / EXCEPT arms by position', () => {
    assert.deepEqual(sources("SELECT name, 'x' FROM customers UNION SELECT status, email FROM orders, customers"), [
      ['customers.name', 'customers.status', 'orders.status'],
      ['customers.email', 'orders.email'],
    ]);
    assert.deepEqual(masked("SELECT 'x' EXCEPT SELECT lower(ssn) FROM customers"), [true]);
  });
  it('VALUES and joins with VALUES', () => {
    assert.deepEqual(sources("VALUES (1, 'a'), (2, 'b')"), [[], []]);
    assert.deepEqual(masked("SELECT t.a || c.email FROM (VALUES ('x')) AS t(a) JOIN customers c ON true", CATALOG), [
      true,
    ]);
  });
  it('* expansion with a catalog, symbolic without one', () => {
    assert.deepEqual(masked('SELECT * FROM customers', CATALOG), [false, false, true, true, true, true, false, false]);
    const symbolic = lineage('SELECT * FROM customers')[0]!.outputs!;
    assert.equal(symbolic.length, 1);
    assert.equal(symbolic[0]!.star, true);
    assert.deepEqual(symbolic[0]!.sources, ['customers.*']);
    assert.equal(outputIsMasked(symbolic[0]!, MASKER), true);
    assert.deepEqual(masked("SELECT s.* FROM (SELECT id, email || '' AS e FROM customers) s"), [false, true]);
  });
  it('whole rows: row_to_json, ROW(…), json_build_object, record casts', () => {
    assert.deepEqual(masked('SELECT row_to_json(c) FROM customers c', CATALOG), [true]);
    const l = lineageWithCatalog('SELECT row_to_json(c) FROM customers c', CATALOG)![0]!.outputs![0]!;
    assert.equal(l.jsonRow, true); // keys are column names: the adapter masks by key
    assert.equal(
      lineageWithCatalog('SELECT row_to_json(s) FROM (SELECT email AS e FROM customers) s', CATALOG)![0]!.outputs![0]!
        .jsonRow,
      undefined,
    );
    assert.deepEqual(masked('SELECT row_to_json(s) FROM (SELECT email AS e FROM customers) s'), [true]);
    assert.deepEqual(masked("SELECT json_build_object('k', email)::text FROM customers"), [true]);
    assert.deepEqual(masked('SELECT ROW(id, ssn)::text FROM customers'), [true]);
    assert.deepEqual(masked('SELECT c::text FROM customers c', CATALOG), [true]);
    assert.deepEqual(masked('SELECT row_to_json(o) FROM orders o', CATALOG), [false]);
  });
  it('window functions carry their argument; PARTITION BY / ORDER BY are filters', () => {
    const sql =
      'SELECT first_value(email) OVER (PARTITION BY phone ORDER BY ssn), row_number() OVER (ORDER BY card_number) FROM customers';
    assert.deepEqual(masked(sql), [true, false]);
    assert.deepEqual(filters(sql), ['customers.card_number', 'customers.phone', 'customers.ssn']);
  });
  it('views resolved through the catalog', () => {
    assert.deepEqual(sources('SELECT contact FROM v', CATALOG), [['public.customers.email']]);
    assert.deepEqual(masked("SELECT upper(contact) || '' FROM v", CATALOG), [true]);
    assert.deepEqual(masked('SELECT id FROM v', CATALOG), [false]);
    assert.deepEqual(masked('SELECT * FROM v', CATALOG), [false, true]);
  });
  it('RETURNING and COPY (query) TO', () => {
    assert.deepEqual(sources("UPDATE customers SET notes = 'x' WHERE id = 1 RETURNING reverse(email), id"), [
      ['customers.email'],
      ['customers.id'],
    ]);
    assert.deepEqual(sources('DELETE FROM customers WHERE id = 1 RETURNING ssn'), [['customers.ssn']]);
    assert.deepEqual(sources("INSERT INTO orders (customer_id, amount) VALUES (1, 2) RETURNING status || ''"), [
      ['orders.status'],
    ]);
    assert.deepEqual(sources('COPY (SELECT upper(ssn) FROM customers) TO STDOUT'), [['customers.ssn']]);
    assert.deepEqual(sources('COPY customers (id, email) TO STDOUT'), [['customers.id'], ['customers.email']]);
  });
  it('qualified names and aliases', () => {
    assert.deepEqual(sources('SELECT c.email, public.customers.ssn FROM public.customers c'), [
      ['public.customers.email'],
      ['public.customers.ssn'],
    ]);
    assert.deepEqual(sources('SELECT x.e FROM (SELECT email AS e FROM customers) AS x'), [['customers.email']]);
    assert.deepEqual(sources('SELECT x.a FROM (SELECT email FROM customers) AS x(a)'), [['customers.email']]);
  });
});

describe('lineage: what only counts or tests', () => {
  it('count(x) and x IS NULL carry nothing and filter nothing for a plain column', () => {
    assert.deepEqual(masked('SELECT count(email), count(*), count(DISTINCT ssn) FROM customers'), [
      false,
      false,
      false,
    ]);
    const sql = 'SELECT email IS NULL, ssn IS NOT NULL FROM customers';
    assert.deepEqual(masked(sql), [false, false]);
    assert.deepEqual(filters(sql), []);
  });
  it('count of a computed value is a test (it can encode a bit of the value)', () => {
    const sql = "SELECT count(nullif(substr(ssn, 1, 1), '5')) FROM customers";
    assert.deepEqual(masked(sql), [false]);
    assert.deepEqual(filters(sql), ['customers.ssn']);
  });
  it('comparisons, LIKE, IN, BETWEEN, boolean logic are tests (filters), not values', () => {
    for (const expr of [
      "ssn LIKE '5%'",
      "email = 'a@b.c'",
      "ssn > '5'",
      "phone IN ('1', '2')",
      "ssn BETWEEN '1' AND '2'",
      "NOT (email ~ 'x')",
      "card_number IS DISTINCT FROM 'x'",
    ]) {
      const sql = `SELECT ${expr} FROM customers`;
      assert.deepEqual(masked(sql), [false], expr);
      assert.equal(filters(sql).length, 1, expr);
    }
  });
});

describe('lineage: filter columns', () => {
  it('WHERE, JOIN ON / USING, HAVING, ORDER BY (by name, alias or position), aggregate FILTER', () => {
    assert.deepEqual(filters("SELECT id FROM customers WHERE ssn LIKE '5%'"), ['customers.ssn']);
    assert.deepEqual(filters('SELECT id FROM customers WHERE id = 7'), ['customers.id']);
    assert.deepEqual(filters('SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id'), [
      'customers.id',
      'orders.customer_id',
    ]);
    assert.deepEqual(filters("SELECT 1 FROM customers GROUP BY name HAVING max(ssn) > '5'"), ['customers.ssn']);
    assert.deepEqual(filters('SELECT id, email AS e FROM customers ORDER BY e'), ['customers.email']);
    assert.deepEqual(filters('SELECT id, email FROM customers ORDER BY 2'), ['customers.email']);
    assert.deepEqual(filters('SELECT id, email FROM customers ORDER BY 1'), ['customers.id']);
    assert.deepEqual(filters("SELECT count(*) FILTER (WHERE card_number LIKE '4%') FROM customers"), [
      'customers.card_number',
    ]);
    assert.deepEqual(filters("SELECT string_agg(name, ',' ORDER BY ssn) FROM customers"), ['customers.ssn']);
    assert.deepEqual(
      filters("SELECT 1 FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE status = 'x')"),
      ['customers.id', 'orders.customer_id', 'orders.status'],
    );
    assert.deepEqual(filters("UPDATE customers SET notes = 'x' WHERE email = 'a@b.c'"), ['customers.email']);
  });
  it('ORDER BY 1 and ORDER BY 2 do not share a cache entry', () => {
    assert.deepEqual(filters('SELECT id, ssn FROM customers ORDER BY 1'), ['customers.id']);
    assert.deepEqual(filters('SELECT id, ssn FROM customers ORDER BY 2'), ['customers.ssn']);
  });
});

describe('lineage: fail closed', () => {
  it('a user-defined function, SQL in a string, FETCH and EXECUTE are unresolved', () => {
    assert.deepEqual(masked('SELECT all_emails()', CATALOG), [true]);
    assert.deepEqual(masked('SELECT name FROM customers', CATALOG), [false]);
    assert.deepEqual(masked("SELECT query_to_xml('select email from customers', true, true, '')"), [true]);
    for (const sql of ['FETCH 10 FROM c', 'EXECUTE p(1)', 'CALL proc()']) {
      const l = lineage(sql)[0]!;
      assert.equal(l.outputs, null, sql);
      assert.equal(l.opaque, true, sql);
    }
    assert.deepEqual(maskedOutputNames(lineage('FETCH 10 FROM c'), MASKER), ['*']);
  });
  it('an unknown function in a schema other than pg_catalog is unresolved', () => {
    assert.deepEqual(masked('SELECT myschema.f(id) FROM customers'), [true]);
    assert.deepEqual(masked('SELECT pg_catalog.upper(name) FROM customers'), [false]);
  });
  it('SHOW and EXPLAIN return no data', () => {
    assert.deepEqual(masked('SHOW search_path'), [false]);
    assert.deepEqual(masked('EXPLAIN SELECT email FROM customers'), [false]);
  });
  it('op.sql.maskedOutputs names the masked outputs', () => {
    assert.deepEqual(
      maskedOutputNames(lineage("SELECT id, reverse(email) AS r, count(ssn), ssn || '' FROM customers"), MASKER),
      ['r', '?column?'],
    );
    const unmasked = compileMasker({ columns: [], detect: ['email'] });
    assert.deepEqual(maskedOutputNames(lineage('SELECT reverse(email) FROM customers'), unmasked), []);
  });
  it('a masked name configured with its table matches only that table', () => {
    const byTable = compileMasker({ columns: ['customers.email'], detect: [] });
    const [c, o] = lineage('SELECT c.email, o.email FROM customers c, orders o')[0]!.outputs!;
    assert.equal(outputIsMasked(c!, byTable), true);
    assert.equal(outputIsMasked(o!, byTable), false);
    const bySchema = compileMasker({ columns: ['public.customers.email'], detect: [] });
    assert.equal(outputIsMasked(c!, bySchema), true); // the statement did not name the schema
  });
});
