// Real clients through the PostgreSQL front door: psql (loopback cleartext and TLS), node-postgres
// (simple and extended), postgres.js (pipelined), pgbench; catalog queries, COPY both ways,
// transactions, named prepared statements re-decided per execution, cancel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';
import { conninfo, ms, psql, readRecordings, runProgram } from './support.js';

describe('postgres front door: real clients', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let token: string;
  before(async () => {
    target = await startShopPostgres();
    gw = await startTestGateway(target);
    token = await gw.token('agent-clients', ['agents']);
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('psql over loopback cleartext runs a query', async () => {
    const r = await psql(gw, token, { command: 'SELECT name FROM customers WHERE id = 1' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'Ada Lovelace');
  });

  it('psql with sslmode=require negotiates TLS with the generated certificate', async () => {
    const r = await psql(
      gw,
      token,
      { command: "SELECT 'tls:' || count(*) FROM orders" },
      { sslmode: 'require', extraArgs: ['-c', '\\conninfo'] },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tls:200/);
    assert.match(r.stdout, /SSL connection \(protocol: TLS/);
  });

  it('psql \\d customers (catalog queries) describes the table', async () => {
    const r = await psql(gw, token, { command: '\\d customers' }, { extraArgs: ['-P', 'tuples_only=off'] });
    assert.equal(r.code, 0, r.stderr);
    for (const col of ['id', 'name', 'email', 'card_number', 'created_at'])
      assert.match(r.stdout, new RegExp(`^${col}\\|`, 'm'));
    assert.match(r.stdout, /customers_email_key/);
  });

  it('psql COPY … TO STDOUT and COPY orders FROM STDIN', async () => {
    const out = await psql(gw, token, {
      command: 'COPY (SELECT id, status FROM orders WHERE id <= 3 ORDER BY id) TO STDOUT',
    });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(out.stdout.trim().split('\n'), ['1\tpaid', '2\tshipped', '3\tcancelled']);

    const input = '1\t12.50\tnew\n2\t99.99\tpaid\n';
    const into = await psql(gw, token, { command: 'COPY orders (customer_id, amount, status) FROM STDIN', input });
    assert.equal(into.code, 0, into.stderr);
    assert.match(into.stdout, /COPY 2/);
    const rows = await runSql(target.url, 'SELECT count(*)::int AS n FROM orders WHERE amount IN (12.50, 99.99)');
    assert.equal(rows[0]?.n, 2);
    await runSql(target.url, 'DELETE FROM orders WHERE id > 200');
  });

  it('psql transaction: BEGIN, INSERT, ROLLBACK leaves no row', async () => {
    const script =
      "BEGIN;\nINSERT INTO orders (customer_id, amount, status) VALUES (1, 1.23, 'tx-test');\nSELECT count(*) FROM orders WHERE status = 'tx-test';\nROLLBACK;\nSELECT count(*) FROM orders WHERE status = 'tx-test';\n";
    const r = await psql(gw, token, { input: script });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['BEGIN', 'INSERT 0 1', '1', 'ROLLBACK', '0']);
  });

  it('node-postgres: simple and extended (parameterized) queries, transaction state', async () => {
    const client = new pg.Client({ connectionString: gw.url(token) });
    await client.connect();
    try {
      const simple = await client.query('SELECT count(*)::int AS n FROM orders; SELECT 1 AS one');
      assert.ok(Array.isArray(simple));
      assert.equal((simple as unknown as pg.QueryResult[])[0]?.rows[0].n, 200);
      const p = await client.query('SELECT id, status FROM orders WHERE id = $1 AND status = $2', [4, 'new']);
      assert.deepEqual(p.rows, [{ id: 4, status: 'new' }]);
      await client.query('BEGIN');
      await client.query('INSERT INTO orders (customer_id, amount, status) VALUES ($1, $2, $3)', [2, 5, 'pg-tx']);
      const inside = await client.query("SELECT count(*)::int AS n FROM orders WHERE status = 'pg-tx'");
      assert.equal(inside.rows[0].n, 1);
      await client.query('ROLLBACK');
      const outside = await client.query("SELECT count(*)::int AS n FROM orders WHERE status = 'pg-tx'");
      assert.equal(outside.rows[0].n, 0);
    } finally {
      await client.end();
    }
  });

  it('named prepared statements are re-decided on every execution', async () => {
    const client = new pg.Client({ connectionString: gw.url(token) });
    await client.connect();
    try {
      const text = 'SELECT status FROM orders WHERE id = $1 /* prepared-redecide */';
      for (const id of [1, 2, 3]) {
        const r = await client.query({ name: 'by-id', text, values: [id] });
        assert.equal(r.rows.length, 1);
      }
    } finally {
      await client.end();
    }
    const events = (await readRecordings(gw)).flatMap((r) => r.events);
    const decided = events.filter((e) => e.type === 'operation' && String(e.text).includes('prepared-redecide'));
    assert.equal(decided.length, 3, 'one decision per execution (Parse once, Bind three times)');
  });

  it('postgres.js pipelines concurrent queries on one connection', async () => {
    const sql = postgres({
      host: '127.0.0.1',
      port: gw.pgPort,
      database: 'shop',
      username: 'agent',
      password: token,
      ssl: false,
      max: 1,
      onnotice: () => {},
    });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => i + 1);
      const results = await Promise.all(ids.map((id) => sql`SELECT id, status FROM orders WHERE id = ${id}`));
      assert.deepEqual(
        results.map((r) => r[0]?.id),
        ids,
      );
      const [one] = await sql`SELECT name, email AS e FROM customers WHERE id = ${1}`;
      assert.equal(one?.name, 'Ada Lovelace');
      assert.notEqual(one?.e, 'ada@example.com');
      // Again with the same (now prepared) statements, mixed with unnamed ones.
      const again = await Promise.all([
        sql`SELECT id FROM orders WHERE id = ${7}`,
        sql.unsafe('SELECT 42 AS n'),
        sql`SELECT id FROM orders WHERE id = ${8}`,
      ]);
      assert.deepEqual(
        again.map((r) => Number(r[0]?.id ?? r[0]?.n)),
        [7, 42, 8],
      );
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('pgbench -S (simple and -M prepared) runs through the gateway', async () => {
    const init = await runProgram(
      '/usr/bin/pgbench',
      ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(target.port), '-U', target.user, target.database],
      {
        env: { PGPASSWORD: target.password, PGSSLMODE: 'disable' },
        timeoutMs: 120_000,
      },
    );
    assert.equal(init.code, 0, init.stderr);
    for (const mode of ['simple', 'prepared']) {
      const r = await runProgram(
        '/usr/bin/pgbench',
        [
          '-S',
          '-n',
          '-t',
          '50',
          '-c',
          '2',
          '-M',
          mode,
          '-h',
          '127.0.0.1',
          '-p',
          String(gw.pgPort),
          '-U',
          'agent',
          'shop',
        ],
        {
          env: { PGPASSWORD: token, PGSSLMODE: 'disable' },
          timeoutMs: 120_000,
        },
      );
      assert.equal(r.code, 0, `${mode}: ${r.stderr}\n${r.stdout}`);
      assert.match(r.stdout, /number of transactions actually processed: 100\/100/);
      assert.match(r.stdout, /number of failed transactions: 0/);
    }
  });

  it('cancel through node-postgres ends pg_sleep with 57014 quickly', async () => {
    const client = new pg.Client({ connectionString: gw.url(token) });
    await client.connect();
    try {
      const started = Date.now();
      const sleeping = client.query('SELECT pg_sleep(30)');
      const outcome = sleeping.then(
        () => null,
        (err: Error & { code?: string }) => err,
      );
      await ms(500);
      const canceller = new pg.Client({ connectionString: gw.url(token) });
      (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(
        client,
        (client as unknown as { activeQuery: unknown }).activeQuery,
      );
      const err = await outcome;
      assert.ok(err, 'the query was cancelled');
      assert.equal(err.code, '57014');
      assert.ok(Date.now() - started < 10_000, 'cancelled well before the sleep ended');
      const after = await client.query('SELECT 1 AS ok');
      assert.equal(after.rows[0].ok, 1);
    } finally {
      await client.end();
    }
  });

  it('cancel through psql (SIGINT) ends pg_sleep with 57014', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(
      '/usr/bin/psql',
      ['-X', '-v', 'VERBOSITY=verbose', '-d', conninfo(gw), '-c', 'SELECT pg_sleep(30)'],
      {
        env: { ...process.env, PGPASSWORD: token },
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await ms(1000);
    child.kill('SIGINT');
    const code = await exited;
    assert.ok(Date.now() - started < 10_000, 'psql returned well before the sleep ended');
    assert.notEqual(code, 0);
    assert.match(stderr, /57014/);
  });
});
