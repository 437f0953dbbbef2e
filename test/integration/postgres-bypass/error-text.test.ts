// Finding 7: the server quotes values in its error and notice texts (`relation "ada@…" does not
// exist`, `invalid input syntax …: "123-45-6789"`, `Key (email)=(…) already exists`, RAISE). An
// agent must get the SQLSTATE but no clear value, over the simple and the extended protocol.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { runSql } from '../../helpers/postgres.js';
import { conninfo, runProgram } from '../postgres/support.js';
import { assertNoLeak, leaked, shopSecrets } from './support.js';

type PgError = Error & { code?: string; detail?: string; hint?: string; where?: string; internalQuery?: string };

/** Statements whose error (as the server words it) quotes a customer's value. */
const CASES: [string, unknown[]?][] = [
  ['SELECT email::regclass FROM customers WHERE id = 1'],
  ['SELECT email::regclass FROM customers WHERE id = $1', [1]],
  ["SELECT replace(email, '.', '_')::regclass FROM customers WHERE id = 2"],
  ['SELECT ssn::int FROM customers WHERE id = 2'],
  ['SELECT phone::date FROM customers WHERE id = 3'],
  ['SELECT card_number::uuid FROM customers WHERE id = $1', [4]],
  ['SELECT email::int FROM customers ORDER BY id'],
  ['UPDATE customers SET email = (SELECT email FROM customers WHERE id = 2) WHERE id = 1'],
  ["DO $$ BEGIN RAISE EXCEPTION '%', (SELECT ssn FROM customers WHERE id = 5); END $$"],
];

/** The secrets plus the parts of an email a server message may quote alone (`ada@example`). */
async function secretsAndParts(pg: Parameters<typeof shopSecrets>[0]): Promise<string[]> {
  const all = await shopSecrets(pg);
  const parts = all.filter((v) => v.includes('@')).map((v) => v.slice(0, v.lastIndexOf('.')));
  return [...all, ...parts, ...all.filter((v) => v.includes('@')).map((v) => v.replaceAll('.', '_'))];
}

describe('bypass: values quoted in error and notice texts', () => {
  const suite = shopGatewaySuite();

  for (const [sql, params] of CASES) {
    it(`${sql}${params ? ' (extended)' : ''}`, async () => {
      const secrets = await secretsAndParts(suite.target);
      // The same statement as the owner: the server really quotes a value here (control).
      const direct = await runSql(suite.target.url, sql, params).then(
        () => null,
        (e: PgError) => e,
      );
      assert.ok(direct, 'the statement fails on the server');
      const sqlstate = direct.code;
      assert.notDeepEqual(
        leaked([direct.message, direct.detail], secrets),
        [],
        `the server's own text quotes a value: ${direct.message}`,
      );
      const c = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('err-agent', ['agents'])) });
      await c.connect();
      try {
        const err = await c.query(sql, params).then(
          () => null,
          (e: PgError) => e,
        );
        assert.ok(err, 'the statement fails through the gateway too');
        if (!/^(blocked|approval required)/.test(err.message)) assert.equal(err.code, sqlstate, err.message);
        assertNoLeak(
          [err.message, err.detail, err.hint, err.where, err.internalQuery],
          secrets,
          `${err.code} ${err.message} / ${err.detail}`,
        );
      } finally {
        await c.end();
      }
    });
  }

  it('RAISE NOTICE with a secret', async () => {
    const secrets = await shopSecrets(suite.target);
    const c = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('notice-agent', ['agents'])) });
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(`${n.message} ${(n as PgError).detail ?? ''}`));
    await c.connect();
    try {
      await c
        .query("DO $$ BEGIN RAISE NOTICE 'card %', (SELECT card_number FROM customers WHERE id = 1); END $$")
        .catch(() => {});
      assertNoLeak(notices, secrets, 'notice');
    } finally {
      await c.end();
    }
  });

  it('psql shows the error without the value', async () => {
    const secrets = await secretsAndParts(suite.target);
    const r = await runProgram(
      '/usr/bin/psql',
      [
        '-X',
        '-A',
        '-t',
        '-v',
        'VERBOSITY=verbose',
        '-d',
        conninfo(suite.gw),
        '-c',
        'SELECT email::regclass FROM customers WHERE id = 1',
      ],
      { env: { PGPASSWORD: await suite.gw.token('err-psql', ['agents']) } },
    );
    assert.match(r.stderr, /ERROR: {2}3F000/);
    assertNoLeak([r.stderr, r.stdout], secrets, r.stderr);
  });
});
