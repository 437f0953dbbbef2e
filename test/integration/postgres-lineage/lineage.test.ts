// Masking that follows the data, through real psql and node-postgres as an agent: expressions the
// content detectors cannot recognise (`reverse(email)`, base64, hex, one digit per row…) are
// masked by column lineage; a view's column is traced to its source; planner statistics are not
// readable under masking; a filter on a masked column is reviewed (or blocked, per policy); and
// what only counts or tests an unmasked key stays a plain answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startShopPostgres, startTestGateway, TEST_POLICY, type TestGateway } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';
import { psql } from '../postgres/support.js';

// Every sensitive value of customer 1–5 (src/demo/shop.sql) and forms trivially decodable to them.
const ORIGINALS = [
  'ada@example.com',
  'alan@example.org',
  'grace@example.net',
  '+1 415 555 0132',
  '+44 20 7946 0958',
  '123-45-6789',
  '219-09-9999',
  '4111 1111 1111 1111',
  '5555555555554444',
  '378282246310005',
];
const DECODABLE = [
  ...ORIGINALS,
  ...ORIGINALS.map((v) => [...v].reverse().join('')),
  ...ORIGINALS.map((v) => Buffer.from(v).toString('base64')),
  ...ORIGINALS.map((v) => Buffer.from(v).toString('hex')),
  'ada@exampl', // ORIGINALS minus one character
  'da@example.com',
  'ada at example.com',
  '12345678', // the SSN's digits
  '4111111111111111',
  BigInt('4111111111111111').toString(16),
];

function assertNothingDecodable(text: string, what: string): void {
  for (const v of DECODABLE) assert.ok(!text.includes(v), `${what}: ${JSON.stringify(v)} in ${JSON.stringify(text)}`);
}

// The filter-oracle rules as the example policy writes them: agents' filters on masked columns
// wait for a dba; a `restricted` group is refused outright.
const ORACLE = `(c.endsWith('.email') || c.endsWith('.phone') || c.endsWith('.ssn') || c.endsWith('.card_number'))`;
const POLICY = TEST_POLICY.replace(
  'masking:',
  `  - name: masked-filter-needs-review
    groups: [agents]
    when: op.kind == 'sql' && op.sql.filterColumns.exists(c, ${ORACLE})
    action: review
    approvers: { groups: [dba], count: 1 }
    message: a filter on a masked column answers questions about its values
  - name: masked-filter-blocked
    groups: [restricted]
    when: op.kind == 'sql' && op.sql.filterColumns.exists(c, ${ORACLE})
    action: block
    message: filters on masked columns are not allowed
masking:`,
)
  .replace(
    '  - groups: [agents]\n    connections: [shop]',
    '  - groups: [agents, restricted, detectors-only]\n    connections: [shop]',
  )
  // An identity masked by the content detectors alone (no column masking, so lineage masks
  // nothing): what it sees in clear is what the detectors miss.
  .replace(
    '    unmaskedFor: [dba]\n',
    '    unmaskedFor: [dba, detectors-only]\n  - connections: [shop]\n    groups: [detectors-only]\n    detect: [email, credit_card, us_ssn, phone, iban, secret]\n',
  );

describe('postgres lineage: masking follows the data', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let agent: string;
  let restricted: string;
  let dba: string;
  let detectorsOnly: string;
  let client: pg.Client;

  before(async () => {
    target = await startShopPostgres();
    // Created by the owner, directly on the target (DDL is blocked through the gateway).
    await runSql(
      target.url,
      `CREATE VIEW v AS SELECT id, email AS contact FROM customers;
       CREATE VIEW vv AS SELECT id, upper(contact) AS shout FROM v;
       CREATE FUNCTION all_emails() RETURNS SETOF text LANGUAGE sql AS $$SELECT email FROM customers$$;
       ANALYZE customers;`,
    );
    gw = await startTestGateway(target, { policy: POLICY });
    agent = await gw.token('agent-lineage', ['agents']);
    restricted = await gw.token('agent-restricted', ['restricted']);
    dba = await gw.token('dba-lineage', ['dba']);
    detectorsOnly = await gw.token('agent-detectors', ['detectors-only']);
    client = new pg.Client({ connectionString: gw.url(agent) });
    await client.connect();
  });
  after(async () => {
    await client?.end().catch(() => {});
    await gw?.stop();
    await target?.stop();
  });

  /** psql as the agent; the output checked for every original value and decodable form. */
  async function agentPsql(command: string, as = agent): Promise<string> {
    const r = await psql(gw, as, { command });
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assertNothingDecodable(r.stdout, command);
    return r.stdout;
  }

  it('concatenations with one character are masked whole (lineage), and by the detectors', async () => {
    const out = await agentPsql(
      "SELECT email || '-', '1' || ssn, '0' || card_number, 'x' || phone FROM customers ORDER BY id LIMIT 5",
    );
    for (const line of out.trim().split('\n')) assert.equal(line, '***|***|***|***');
  });

  it('the || concatenations are masked by the detectors alone (no column masking, no lineage)', async () => {
    const out = await agentPsql(
      "SELECT email || '-', '1' || ssn, '0' || card_number, 'x' || phone FROM customers ORDER BY id LIMIT 5",
      detectorsOnly,
    );
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 5);
    assert.equal(lines[0], 'a***@example.com-|1***-**-6789|0**** **** **** 1111|x+* *** *** 0132');
    assert.equal(lines[1], 'a***@example.org-|1***-**-9999|0************4444|x+** ** **** 0958');
    for (const line of lines) assert.match(line, /^\S\*\*\*@\S+-\|1\*\*\*-\*\*-\d{4}\|0[* ]+\d{4}\|x\S*\*/);
    // string_agg and a card followed by a comma, seen by the detectors alone.
    await agentPsql("SELECT string_agg(card_number, ',') FROM customers", detectorsOnly);
    await agentPsql("SELECT card_number || ',' || card_number, ssn || '0' FROM customers", detectorsOnly);
    // Sanity: the detectors-only identity reads plain columns unmasked by name, masked by content.
    assert.equal((await agentPsql('SELECT name FROM customers WHERE id = 1', detectorsOnly)).trim(), 'Ada Lovelace');
  });

  it('values with no table source (literals, function results) are masked by the detectors', async () => {
    const out = await agentPsql(
      "SELECT * FROM (VALUES ('1' || '123-45-6789', '0' || '4111111111111111', 'x' || '+1 415 555 0132', 'ada@example.com' || '-')) v(a, b, c, d)",
    );
    assert.equal(out.trim(), '1***-**-6789|0************1111|x+* *** *** 0132|a***@example.com-');
    const fn = await agentPsql("SELECT concat('7', '219-09-9999', '0'), format('%s%s', '9', '5555555555554444')");
    assert.equal(fn.trim(), '7***-**-99990|9************4444');
  });

  it('string_agg and repeated card numbers with commas are masked', async () => {
    assert.equal((await agentPsql("SELECT string_agg(card_number, ',') FROM customers")).trim(), '***');
    await agentPsql("SELECT card_number || ',' || card_number FROM customers");
    await agentPsql("SELECT card_number || ';' || ssn || ']' FROM customers");
  });

  it('expressions no detector recognises are masked by lineage', async () => {
    const cases = [
      'SELECT substr(email, 1, 3) FROM customers',
      'SELECT reverse(email) FROM customers',
      "SELECT replace(email, '@', ' at ') FROM customers",
      "SELECT encode(convert_to(ssn, 'UTF8'), 'base64') FROM customers",
      'SELECT email::bytea FROM customers',
      "SELECT to_hex(replace(card_number, ' ', '')::bigint) FROM customers WHERE id < 3",
      "SELECT translate(phone, '0123456789', 'abcdefghij') FROM customers",
      'SELECT substr(c.ssn, g, 1) FROM customers c, generate_series(1, 11) g WHERE c.id = 1',
      'SELECT x.d FROM customers c, LATERAL (SELECT substr(c.ssn, 1, 3) AS d) x',
      'WITH e AS (SELECT email AS m FROM customers) SELECT upper(m) FROM e',
      "WITH RECURSIVE r(n, s) AS (SELECT 1, email FROM customers WHERE id = 1 UNION ALL SELECT n + 1, s || '.' FROM r WHERE n < 3) SELECT s FROM r",
      "SELECT 'x' UNION ALL SELECT lower(email) FROM customers",
      "SELECT json_build_object('k', email)::text FROM customers",
      'SELECT ROW(email, ssn)::text FROM customers',
      "SELECT first_value(email || '') OVER (ORDER BY id) FROM customers",
      'SELECT (SELECT max(ssn) FROM customers) AS m',
      "SELECT v.e FROM (VALUES ('a')) AS t(a), LATERAL (SELECT email || t.a AS e FROM customers) v",
      'SELECT all_emails()',
      "SELECT CASE WHEN id > 0 THEN ssn || '' END FROM customers",
      "SELECT coalesce(null, card_number || '') FROM customers",
      "SELECT array_agg(phone || '')::text FROM customers",
    ];
    for (const sql of cases) {
      const out = await agentPsql(sql);
      for (const line of out.trim().split('\n')) assert.ok(line === '***' || line === '', `${sql}: ${line}`);
    }
  });

  it('a view read by the agent is masked through its definition (views over views too)', async () => {
    const direct = await agentPsql('SELECT contact FROM v ORDER BY id LIMIT 3');
    assert.equal(direct.trim().split('\n').length, 3);
    for (const line of direct.trim().split('\n')) assert.match(line, /\*\*\*/);
    await agentPsql("SELECT contact || '' FROM v");
    await agentPsql('SELECT shout FROM vv');
    await agentPsql('SELECT * FROM v');
    await agentPsql('SELECT lower(shout) FROM vv');
    // The dba (unmaskedFor) sees the view in clear: the masking is the agent's, not the view's.
    const r = await psql(gw, dba, { command: 'SELECT contact FROM v WHERE id = 1' });
    assert.equal(r.stdout.trim(), 'ada@example.com');
  });

  it('COPY (query) TO STDOUT and RETURNING are masked by lineage', async () => {
    await agentPsql('COPY (SELECT reverse(email), upper(ssn) FROM customers) TO STDOUT');
    await agentPsql("COPY (SELECT contact || '' FROM v) TO STDOUT WITH (FORMAT csv)");
    const out = await agentPsql('UPDATE customers SET notes = notes WHERE id = 1 RETURNING reverse(email), id');
    assert.match(out, /^\*\*\*\|1/);
  });

  it('node-postgres (extended protocol, parameters, several statements) gets masked values', async () => {
    const r = await client.query('SELECT reverse(email) AS r, length(ssn) AS l FROM customers WHERE id = $1', [1]);
    assert.equal(r.rows[0].r, '***');
    assert.equal(r.rows[0].l, null); // length carries the value (documented): masked, NULL for an integer
    const multi = (await client.query(
      'SELECT 41 + 1 AS n; SELECT upper(email) AS u FROM customers WHERE id = 2',
    )) as unknown as pg.QueryResult[];
    assert.equal(multi[0]!.rows[0].n, 42);
    assert.equal(multi[1]!.rows[0].u, '***');
  });

  it('counts, null tests and lookups or joins by unmasked keys are plain answers', async () => {
    assert.equal((await agentPsql('SELECT count(email) FROM customers')).trim(), '50');
    assert.equal((await agentPsql('SELECT count(*) FILTER (WHERE phone IS NULL) FROM customers')).trim(), '0');
    assert.equal((await agentPsql('SELECT id FROM customers WHERE id = 7')).trim(), '7');
    const joined = await agentPsql(
      'SELECT c.id, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY o.id LIMIT 2',
    );
    assert.match(joined, /^\d+\|\d+\.\d\d\n/);
    assert.equal((await agentPsql('SELECT upper(name) FROM customers WHERE id = 1')).trim(), 'ADA LOVELACE');
  });

  it('planner statistics of masked tables are not readable under masking', async () => {
    for (const sql of [
      "ANALYZE customers; SELECT most_common_vals, histogram_bounds FROM pg_stats WHERE tablename = 'customers'",
      "SELECT histogram_bounds::text FROM pg_catalog.pg_stats WHERE tablename = 'customers'",
      'SELECT stavalues1 FROM pg_statistic',
      'SELECT most_common_vals FROM pg_stats_ext',
      'SELECT * FROM pg_stats_ext_exprs',
    ]) {
      const r = await psql(gw, agent, { command: sql });
      assert.notEqual(r.code, 0, sql);
      assert.match(r.stderr, /sample values|statistics/, sql);
      assertNothingDecodable(r.stdout + r.stderr, sql);
    }
    const r = await psql(gw, dba, { command: "SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'customers'" });
    assert.equal(r.stdout.trim(), 't');
    // psql's \d reads extended statistics' definitions (pg_statistic_ext), not their samples.
    const described = await psql(gw, agent, { command: '\\d customers' });
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /card_number/);
  });

  it('a filter on a masked column is reviewed for agents, blocked for the restricted group', async () => {
    const oracle = "SELECT id FROM customers WHERE ssn LIKE '5%'";
    const reviewed = await psql(gw, agent, { command: oracle });
    assert.notEqual(reviewed.code, 0);
    assert.match(reviewed.stderr, /review/i);
    const blocked = await psql(gw, restricted, { command: oracle });
    assert.notEqual(blocked.code, 0);
    assert.match(blocked.stderr, /filters on masked columns are not allowed/);
    // Tests in the select list or ORDER BY are oracles too.
    const ordered = await psql(gw, restricted, { command: 'SELECT id FROM customers ORDER BY ssn LIMIT 1' });
    assert.match(ordered.stderr, /filters on masked columns are not allowed/);
    const tested = await psql(gw, restricted, { command: "SELECT ssn LIKE '5%' FROM customers" });
    assert.match(tested.stderr, /filters on masked columns are not allowed/);
    // Equality by an unmasked key stays allowed.
    const byKey = await psql(gw, restricted, { command: 'SELECT name FROM customers WHERE id = 1' });
    assert.equal(byKey.stdout.trim(), 'Ada Lovelace');
  });

  it('cursors and prepared statements return masked values (their rows cannot be traced: fail closed)', async () => {
    const out = await agentPsql(
      'BEGIN; DECLARE c CURSOR FOR SELECT reverse(email), id FROM customers ORDER BY id; FETCH 2 FROM c; COMMIT; PREPARE p AS SELECT upper(ssn) FROM customers WHERE id = 1; EXECUTE p',
    );
    assert.match(out, /\*\*\*\|1\n\*\*\*\|2\n/);
    assert.match(out, /\n\*\*\*\n/);
  });

  it('copying a masked column into an unmasked one is refused, so it never reads back in clear', async () => {
    for (const sql of [
      'UPDATE customers SET notes = reverse(ssn) WHERE id = 1',
      "INSERT INTO orders (customer_id, amount, status) SELECT id, 1, card_number || '' FROM customers WHERE id = 1",
    ]) {
      const r = await psql(gw, agent, { command: sql });
      assert.notEqual(r.code, 0, sql);
      assert.match(r.stderr, /would unmask it/, sql);
    }
    const notes = await agentPsql('SELECT notes FROM customers WHERE id = 1');
    assert.equal(notes.trim(), 'prefers email');
  });
});
