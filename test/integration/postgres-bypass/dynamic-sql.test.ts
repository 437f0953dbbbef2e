// Finding 4: functions that run SQL given as a string (ts_stat, query_to_xml, …) hide the calls
// inside it. Under the example policy pg_terminate_backend is blocked; hidden in such a string it
// must be blocked too, and other sessions (through the gateway and straight to the server) must
// survive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { isWardenRefusal } from '../../helpers/wire-client.js';
import { examplePolicy, ms } from './support.js';

type PgError = Error & { code?: string };

const KILL =
  'select to_tsvector(pg_terminate_backend(pid)::text) from pg_stat_activity where usename = current_user and pid <> pg_backend_pid()';

const ATTACKS: [string, string][] = [
  [
    'plain call (control)',
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid()',
  ],
  ['ts_stat($$…$$)', `select * from ts_stat($$${KILL}$$)`],
  ["ts_stat('…')", `select * from ts_stat('${KILL}')`],
  [
    'ts_stat(computed text)',
    `select * from ts_stat('select to_tsvector(pg_terminate' || '_backend(pid)::text) from pg_stat_activity where usename = current_user and pid <> pg_backend_pid()')`,
  ],
  [
    'query_to_xml',
    `select query_to_xml('select pg_terminate_backend(pid) from pg_stat_activity where usename = current_user and pid <> pg_backend_pid()', true, true, '')`,
  ],
  [
    'query_to_xml(computed)',
    `select query_to_xml(chr(115) || 'elect pg_terminate_backend(pid) from pg_stat_activity where usename = current_user and pid <> pg_backend_pid()', true, true, '')`,
  ],
];

describe('bypass: dynamic SQL hides blocked functions (example policy)', async () => {
  const suite = shopGatewaySuite({ policy: await examplePolicy() });

  async function client(url: string): Promise<{ c: pg.Client; dead: () => boolean }> {
    const c = new pg.Client({ connectionString: url });
    let dead = false;
    c.on('error', () => {
      dead = true;
    });
    c.on('end', () => {
      dead = true;
    });
    await c.connect();
    return { c, dead: () => dead };
  }

  for (const [name, sql] of ATTACKS) {
    it(`${name} is refused and bystander sessions survive`, async () => {
      const bystanders = [
        await client(suite.gw.url(await suite.gw.token('bystander-agent', ['agents']))),
        await client(suite.gw.url(await suite.gw.token('bystander-dba', ['dba']))),
        await client(suite.target.url),
      ];
      const attacker = await client(suite.gw.url(await suite.gw.token('killer', ['agents'])));
      try {
        for (const b of bystanders) assert.equal((await b.c.query('SELECT 1 AS n')).rows[0].n, 1);
        let err: PgError | undefined;
        try {
          await attacker.c.query(sql);
        } catch (e) {
          err = e as PgError;
        }
        await ms(200);
        const alive = await Promise.all(
          bystanders.map((b) =>
            b.c.query('SELECT 1 AS n').then(
              (r) => r.rows[0].n === 1 && !b.dead(),
              () => false,
            ),
          ),
        );
        assert.deepEqual(
          alive,
          [true, true, true],
          `bystanders (gateway agent, gateway dba, direct) alive after: ${sql}`,
        );
        assert.ok(
          err && isWardenRefusal(err),
          `refused by Warden, got ${err ? `${err.code} ${err.message}` : 'success'}`,
        );
      } finally {
        for (const b of [...bystanders, attacker]) await b.c.end().catch(() => {});
      }
    });
  }
});
