// Finding 1: the gateway learns a statement's or portal's row shape once, then the attacker swaps
// what that name means in SQL (DEALLOCATE/PREPARE, CLOSE/DECLARE) and executes it through the
// protocol. The rows must still be masked (or the execution refused): no clear value may arrive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import postgres from 'postgres';
import {
  writeBind,
  writeDescribe,
  writeExecute,
  writeParse,
  writeSync,
} from '../../../src/protocols/postgres/wire/index.js';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { summarize, WireClient } from '../../helpers/wire-client.js';
import { assertNoLeak, shopSecrets } from './support.js';

const SECRET_SELECT = 'SELECT email, ssn, card_number, phone FROM customers';

describe('bypass: stale row shape of a re-defined statement, cursor or portal', () => {
  const suite = shopGatewaySuite();
  const cells = (rows: (string | null)[][]) => rows.flat();

  it('raw wire: Describe a harmless named statement, re-PREPARE it in SQL, Bind/Execute it', async () => {
    const secrets = await shopSecrets(suite.target);
    const c = await WireClient.gateway(suite.gw.pgPort, await suite.gw.token('stale-1', ['agents']));
    try {
      c.send((w) => {
        writeParse(w, 's', 'select true, true, true, true');
        writeDescribe(w, 'S', 's');
        writeSync(w);
      });
      await c.untilReady();
      const swap = await c.query(`DEALLOCATE s; PREPARE s AS ${SECRET_SELECT}`);
      c.send((w) => {
        writeBind(w, { portal: '', statement: 's' });
        writeExecute(w);
        writeSync(w);
      });
      const out = summarize(await c.untilReady());
      assertNoLeak(cells(out.rows), secrets, `swap ${swap.tags.join(',') || swap.errors.map((e) => e.code).join(',')}`);
    } finally {
      c.destroy();
    }
  });

  it('postgres.js (prepare: true): its cached statement re-PREPAREd under the same name', async () => {
    const secrets = await shopSecrets(suite.target);
    const token = await suite.gw.token('stale-2', ['agents']);
    const sql = postgres({
      host: '127.0.0.1',
      port: suite.gw.pgPort,
      database: 'shop',
      username: 'agent',
      password: token,
      ssl: false,
      max: 1,
      onnotice: () => {},
    });
    try {
      // A tagged query: postgres.js names and caches it. Text columns, so the client decodes
      // whatever arrives as text and the test can read it.
      const harmless = () => sql`select 'a'::text as a, 'b'::text as b, 'c'::text as c, 'd'::text as d`;
      const first = await harmless();
      assert.equal(first[0]?.a, 'a');
      // The attacker reads the driver's statement name from the server, then swaps its meaning.
      const names = await sql.unsafe(
        "select name from pg_prepared_statements where statement like 'select ''a''::text as a%'",
      );
      const name = String(names[0]?.name ?? '');
      assert.ok(name, 'postgres.js prepared a named statement');
      const swapped = await sql.unsafe(`DEALLOCATE "${name}"; PREPARE "${name}" AS ${SECRET_SELECT}`).then(
        () => 'ran',
        (e: Error & { code?: string }) => `refused ${e.code}`,
      );
      const again = await harmless().then(
        (rows) => rows.flatMap((r) => Object.values(r).map((v) => (v === null ? null : String(v)))),
        (e: Error & { code?: string }) => [`refused ${e.code}`],
      );
      assertNoLeak(again, secrets, `swap ${swapped}`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('a cursor closed and re-declared in SQL, then FETCHed and Executed as a protocol portal', async () => {
    const secrets = await shopSecrets(suite.target);
    const c = await WireClient.gateway(suite.gw.pgPort, await suite.gw.token('stale-3', ['agents']));
    try {
      await c.query('BEGIN');
      await c.query(
        "DECLARE c CURSOR FOR SELECT 'a'::text, 'b'::text, 'c'::text, 'd'::text FROM generate_series(1, 100)",
      );
      await c.query('FETCH 1 FROM c');
      await c.query(`CLOSE c; DECLARE c CURSOR FOR ${SECRET_SELECT}`);
      const fetched = await c.query('FETCH 3 FROM c');
      assertNoLeak(cells(fetched.rows), secrets, 'FETCH from the re-declared cursor');
      // The same cursor is a portal named 'c' for the extended protocol.
      c.send((w) => {
        writeExecute(w, 'c', 0);
        writeSync(w);
      });
      const executed = summarize(await c.untilReady());
      assertNoLeak(cells(executed.rows), secrets, 'Execute of portal c');
      await c.query('ROLLBACK');
    } finally {
      c.destroy();
    }
  });

  it('a named protocol portal closed and re-declared in SQL, then Executed through the protocol', async () => {
    const secrets = await shopSecrets(suite.target);
    const c = await WireClient.gateway(suite.gw.pgPort, await suite.gw.token('stale-4', ['agents']));
    try {
      await c.query('BEGIN');
      c.send((w) => {
        writeParse(
          w,
          'q',
          "SELECT 'a'::text AS a, 'b'::text AS b, 'c'::text AS c, 'd'::text AS d FROM generate_series(1, 10)",
        );
        writeBind(w, { portal: 'p', statement: 'q' });
        writeDescribe(w, 'P', 'p');
        writeExecute(w, 'p', 1);
        writeSync(w);
      });
      await c.untilReady();
      const swap = await c.query(`CLOSE p; DECLARE p CURSOR FOR ${SECRET_SELECT}`);
      c.send((w) => {
        writeExecute(w, 'p', 0);
        writeSync(w);
      });
      const out = summarize(await c.untilReady());
      assertNoLeak(cells(out.rows), secrets, `swap ${swap.tags.join(',') || swap.errors.map((e) => e.code).join(',')}`);
      await c.query('ROLLBACK');
    } finally {
      c.destroy();
    }
  });
});
