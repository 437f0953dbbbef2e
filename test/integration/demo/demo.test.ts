// `warden demo` end to end: the embedded PGlite target behind the gateway, driven by real psql and
// node-postgres (the four outcomes), concurrent clients on the single PGlite backend, the target's
// own password check, `warden connect` injecting the token, and the real CLI as a child process.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  DEFAULT_GATEWAY_PG,
  resolveGatewayPg,
  startTokenProxy,
  type TokenProxy,
} from '../../../src/cli/commands/connect.js';
import { demoPsqlCommand, type RunningDemo, startDemo } from '../../../src/demo/index.js';
import { PSQL, psql, psqlScript, runProgram, spawnWarden, WARDEN_BIN } from './support.js';

const STARTUP_TIMEOUT = 240_000;
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'warden-demo-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function gatewayUrl(demo: RunningDemo, token: string): string {
  return `postgres://agent:${encodeURIComponent(token)}@127.0.0.1:${demo.pgPort}/shop?sslmode=disable`;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function sqlError(client: pg.Client, text: string, values?: unknown[]): Promise<Error & { code?: string }> {
  try {
    await client.query(text, values);
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.fail(`expected ${text} to fail`);
}

describe('warden demo, started in-process', () => {
  let demo: RunningDemo;
  let proxy: TokenProxy | undefined;

  before(
    async () => {
      const started = Date.now();
      demo = await startDemo({ dir: join(root, 'demo'), apiPort: 0, pgPort: 0 });
      process.stderr.write(`# in-process demo (fresh folder) started in ${Date.now() - started} ms\n`);
    },
    { timeout: STARTUP_TIMEOUT },
  );
  after(async () => {
    await proxy?.close();
    await demo?.close();
  });

  it('loads the sample into a fresh folder and writes a config that names the ports', async () => {
    assert.equal(demo.freshSample, true);
    assert.ok(demo.pgPort > 0 && demo.apiPort > 0 && demo.targetPort > 0);
    assert.notEqual(demo.targetPort, demo.pgPort);
    const { readFile } = await import('node:fs/promises');
    const yaml = await readFile(demo.configFile, 'utf8');
    assert.match(yaml, new RegExp(`postgres: 127\\.0\\.0\\.1:${demo.pgPort}`));
    assert.match(yaml, /password: \$\{file:\.\/target-password\}/);
  });

  it('psql through the gateway: the agent gets masked rows', async () => {
    const r = await psql(
      gatewayUrl(demo, demo.tokens.agent),
      'SELECT name, email, ssn, card_number FROM customers ORDER BY id LIMIT 2',
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(lines[0], 'Ada Lovelace|a***@example.com|***-**-6789|**** **** **** 1111');
    assert.doesNotMatch(r.stdout, /ada@example\.com|123-45-6789|4111 1111 1111 1111/);
  });

  it('psql through the gateway: DROP is blocked (42501) and DELETE without WHERE needs approval', async () => {
    const url = gatewayUrl(demo, demo.tokens.agent);
    const drop = await runProgram(PSQL, ['-X', '-v', 'VERBOSITY=verbose', '-d', url, '-c', 'DROP TABLE orders'], {
      PGPASSFILE: '/dev/null',
    });
    assert.notEqual(drop.code, 0);
    assert.match(drop.stderr, /42501/);
    assert.match(drop.stderr, /blocked by rule no-ddl/);
    const del = await psql(url, 'DELETE FROM orders');
    assert.notEqual(del.code, 0);
    assert.match(del.stderr, /approval required.*r_[0-9a-f]+/);
    const count = await psql(url, 'SELECT count(*) FROM orders');
    assert.equal(count.stdout.trim(), '200', 'nothing was deleted');
  });

  it('node-postgres (simple and extended): mask, allow, block, review, and the session keeps working', async () => {
    await withClient(gatewayUrl(demo, demo.tokens.agent), async (c) => {
      const simple = await c.query('SELECT email FROM customers ORDER BY id LIMIT 1');
      assert.equal(simple.rows[0].email, 'a***@example.com');
      const extended = await c.query('SELECT email AS e, phone FROM customers WHERE id = $1', [2]);
      assert.equal(extended.rows[0].e, 'a***@example.org');
      assert.notEqual(extended.rows[0].phone, '+44 20 7946 0958');
      const blocked = await sqlError(c, 'DROP TABLE customers');
      assert.equal(blocked.code, '42501');
      const review = await sqlError(c, 'UPDATE orders SET status = $1 WHERE true', ['lost']);
      assert.match(review.message, /^approval required/, 'a constant-true WHERE is no filter');
      const reviewSimple = await sqlError(c, 'DELETE FROM orders');
      assert.match(reviewSimple.message, /^approval required/);
      const after = await c.query('SELECT count(*)::int AS n FROM orders WHERE status = $1', ['paid']);
      assert.ok(after.rows[0].n > 0, 'session usable after refusals');
    });
    await withClient(gatewayUrl(demo, demo.tokens.dba), async (c) => {
      const clear = await c.query('SELECT email FROM customers WHERE id = $1', [1]);
      assert.equal(clear.rows[0].email, 'ada@example.com', 'a dba sees clear values');
    });
  });

  it('the approval flow: a dba approves, the agent re-runs the exact statement once', async () => {
    const url = gatewayUrl(demo, demo.tokens.agent);
    const statement = "UPDATE orders SET status = 'archived'";
    const first = await psql(url, statement);
    const id = /r_[0-9a-f]+/.exec(first.stderr)?.[0];
    assert.ok(id, first.stderr);
    const res = await fetch(`${demo.apiUrl}/api/v1/reviews/${id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${demo.tokens.dba}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 200, await res.text());
    const second = await psql(url, statement);
    assert.equal(second.code, 0, second.stderr);
    const count = await psql(url, "SELECT count(*) FROM orders WHERE status = 'archived'");
    assert.equal(count.stdout.trim(), '200');
  });

  it('concurrent clients share the single PGlite backend safely (transactions, named statements)', async () => {
    const url = gatewayUrl(demo, demo.tokens.dba);
    const a = new pg.Client({ connectionString: url });
    const b = new pg.Client({ connectionString: url });
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query('BEGIN');
      await a.query("UPDATE customers SET notes = 'in tx' WHERE id = 3");
      // b waits for a's transaction to end: it must never see the uncommitted row.
      let bDone = false;
      const bRead = b.query('SELECT notes FROM customers WHERE id = 3').then((r) => {
        bDone = true;
        return r.rows[0].notes as string | null;
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(bDone, false, 'b is queued while a is inside a transaction');
      await a.query('COMMIT');
      assert.equal(await bRead, 'in tx');
      // The same prepared statement name on two clients, with different texts.
      const [ra, rb] = await Promise.all([
        a.query({ name: 'same', text: 'SELECT $1::int + 1 AS v', values: [1] }),
        b.query({ name: 'same', text: "SELECT $1::text || '!' AS v", values: ['x'] }),
      ]);
      assert.equal(ra.rows[0].v, 2);
      assert.equal(rb.rows[0].v, 'x!');
      // Interleaved extended-protocol traffic from both clients.
      const loop = async (client: pg.Client) => {
        const seen: number[] = [];
        for (let i = 0; i < 5; i++)
          seen.push((await client.query('SELECT count(*)::int AS n FROM orders WHERE id > $1', [i])).rows[0].n);
        return seen;
      };
      const [la, lb] = await Promise.all([loop(a), loop(b)]);
      assert.deepEqual(la, [200, 199, 198, 197, 196]);
      assert.deepEqual(lb, la);
    } finally {
      await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
    }
    // A client that leaves inside a transaction is rolled back, and the backend is free again.
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {});
    await c.connect();
    await c.query('BEGIN');
    await c.query("UPDATE customers SET notes = 'left behind' WHERE id = 4");
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await withClient(url, async (d) => {
      const r = await d.query('SELECT notes FROM customers WHERE id = 4');
      assert.equal(r.rows[0].notes, 'VIP');
    });
  });

  it('psql COPY FROM STDIN (alone and inside a rolled-back transaction), COPY TO STDOUT masked', async () => {
    const dba = gatewayUrl(demo, demo.tokens.dba);
    const copy = await psqlScript(
      dba,
      'COPY orders (customer_id, amount, status) FROM STDIN;\n1\t9.99\tcopied\n2\t1.50\tcopied\n\\.\n',
    );
    assert.equal(copy.code, 0, copy.stderr);
    const bad = await psqlScript(
      dba,
      'COPY orders (customer_id, amount, status) FROM STDIN;\n1\tnot-a-number\tcopied\n\\.\n',
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid input syntax for type numeric/);
    const tx = await psqlScript(
      dba,
      "BEGIN;\nCOPY orders (customer_id, amount, status) FROM STDIN;\n3\t1\tcopied\n\\.\nSELECT count(*) FROM orders WHERE status = 'copied';\nROLLBACK;\nSELECT count(*) FROM orders WHERE status = 'copied';\n",
    );
    assert.equal(tx.code, 0, tx.stderr);
    assert.deepEqual(
      tx.stdout
        .trim()
        .split('\n')
        .filter((l) => /^\d+$/.test(l)),
      ['3', '2'],
    );
    const out = await psql(
      gatewayUrl(demo, demo.tokens.agent),
      'COPY (SELECT id, email FROM customers WHERE id <= 2 ORDER BY id) TO STDOUT',
    );
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.trim(), '1\ta***@example.com\n2\ta***@example.org');
  });

  it('the embedded target itself requires the password only Warden holds', async () => {
    const direct = `host=127.0.0.1 port=${demo.targetPort} dbname=shop user=postgres sslmode=disable`;
    const wrong = await psql(direct, 'SELECT 1', 'not-the-password');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /password authentication failed/);
    const token = await psql(direct, 'SELECT 1', demo.tokens.agent);
    assert.notEqual(token.code, 0, 'an identity token is not the database password');
  });

  it('warden connect: psql with no password reaches the gateway through the token-injecting listener', async () => {
    proxy = await startTokenProxy({
      connection: 'shop',
      token: demo.tokens.agent,
      gatewayHost: '127.0.0.1',
      gatewayPort: demo.pgPort,
      port: 0,
    });
    const r = await psql(
      `host=127.0.0.1 port=${proxy.port} dbname=whatever user=someone`,
      'SELECT name, email FROM customers ORDER BY id LIMIT 1',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'Ada Lovelace|a***@example.com');
    const described = await psql(`host=127.0.0.1 port=${proxy.port} dbname=shop`, '\\d customers');
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /card_number\|text/);
    const blocked = await psql(`host=127.0.0.1 port=${proxy.port} dbname=shop`, 'DROP TABLE orders');
    assert.notEqual(blocked.code, 0);
    assert.match(blocked.stderr, /blocked by rule no-ddl/);
  });

  it('warden connect finds the front door in the config, else uses the flag or the default', () => {
    assert.deepEqual(resolveGatewayPg(undefined, demo.configFile), { host: '127.0.0.1', port: demo.pgPort });
    assert.deepEqual(resolveGatewayPg('[::1]:6000', demo.configFile), { host: '::1', port: 6000 });
    assert.deepEqual(resolveGatewayPg(undefined, join(root, 'missing.yaml')), {
      host: '127.0.0.1',
      port: Number(DEFAULT_GATEWAY_PG.split(':')[1]),
    });
    assert.throws(() => resolveGatewayPg('nope', demo.configFile), /expected HOST:PORT/);
  });

  it('warden connect with a bad token: the gateway refusal reaches psql', async () => {
    const bad = await startTokenProxy({
      connection: 'shop',
      token: 'not-a-token',
      gatewayHost: '127.0.0.1',
      gatewayPort: demo.pgPort,
      port: 0,
    });
    try {
      const r = await psql(`host=127.0.0.1 port=${bad.port} dbname=shop`, 'SELECT 1');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /FATAL/);
    } finally {
      await bad.close();
    }
  });

  it('prints a psql command that is ready to paste', () => {
    const line = demoPsqlCommand(demo);
    assert.match(
      line,
      new RegExp(`^psql "postgres://agent:[\\w.-]+@127\\.0\\.0\\.1:${demo.pgPort}/shop\\?sslmode=disable" -c "SELECT`),
    );
  });
});

describe('warden demo and warden connect, as the real CLI', () => {
  it('starts, prints a working psql command, serves warden connect, and stops on SIGINT', {
    timeout: STARTUP_TIMEOUT + 120_000,
  }, async () => {
    // Reuses the folder of the in-process suite: this is the "second start" path (reopen, no initdb).
    const started = Date.now();
    const demo = spawnWarden(['demo', '--dir', join(root, 'demo'), '--api-port', '0', '--pg-port', '0']);
    let connect: ReturnType<typeof spawnWarden> | undefined;
    try {
      const out = await demo.waitFor(/Press Ctrl-C to stop/, STARTUP_TIMEOUT);
      process.stderr.write(
        `# CLI demo (reopened folder) ready in ${Date.now() - started} ms (includes node + tsx start)\n`,
      );
      assert.match(demo.stderr(), /starting the embedded PostgreSQL.*done/);

      const m = /psql "(postgres:\/\/[^"]+)" -c "([^"]+)"/.exec(out);
      assert.ok(m, out);
      const r = await runProgram(PSQL, ['-X', '-A', '-t', m[1]!, '-c', m[2]!], { PGPASSFILE: '/dev/null' });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Ada Lovelace\|a\*\*\*@example\.com\|\*\*\*-\*\*-6789\|/m);
      assert.doesNotMatch(r.stdout, /ada@example\.com/);

      const agent = /export AGENT_TOKEN=(\S+)/.exec(out)?.[1];
      const gatewayPg = /--gateway-pg (\S+)/.exec(out)?.[1];
      assert.ok(agent && gatewayPg, out);
      connect = spawnWarden(['connect', 'shop', '--port', '0', '--gateway-pg', gatewayPg], { WARDEN_TOKEN: agent });
      const line = await connect.waitFor(/psql -h 127\.0\.0\.1 -p \d+ shop/, 60_000);
      const port = /-p (\d+)/.exec(line)![1]!;
      const viaConnect = await psql(`host=127.0.0.1 port=${port} dbname=shop`, 'SELECT count(*) FROM customers');
      assert.equal(viaConnect.code, 0, viaConnect.stderr);
      assert.equal(viaConnect.stdout.trim(), '50');
      assert.equal(await connect.stop('SIGINT'), 0);

      assert.equal(await demo.stop('SIGINT'), 0, demo.stderr());
      assert.match(demo.stderr(), /stopped/);
    } finally {
      await connect?.stop('SIGKILL');
      await demo.stop('SIGKILL');
    }
  });

  it('a taken port fails fast with a clear message and exit code 2', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await runProgram(process.execPath, [
        WARDEN_BIN,
        'demo',
        '--dir',
        join(root, 'other'),
        '--api-port',
        '0',
        '--pg-port',
        String(port),
      ]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`PostgreSQL port 127\\.0\\.0\\.1:${port} is already in use.*--pg-port`));
    } finally {
      blocker.close();
    }
  });
});
