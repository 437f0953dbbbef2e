// connectUpstream, simpleQuery, CatalogLookup and sendCancel against a real PostgreSQL 15.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  CatalogLookup,
  closeUpstream,
  connectUpstream,
  isUpstreamError,
  sendCancel,
  simpleQuery,
  type UpstreamConnection,
  type UpstreamOptions,
} from '../../../src/protocols/postgres/upstream/index.js';
import {
  BackendCode,
  dataRowCells,
  type FieldDescription,
  MessageWriter,
  parseCommandComplete,
  parseReadyForQuery,
  parseRowDescription,
  writeQuery,
} from '../../../src/protocols/postgres/wire/index.js';
import { runSql, startPostgres, type TestPostgres } from '../../helpers/postgres.js';

const run = promisify(execFile);
const MD5_PASSWORD = 'md5-Pässword-1';
const PLAIN_PASSWORD = 'plain-password-2';

let pg: TestPostgres;
let certDir: string;
let caCert: string;
const open: UpstreamConnection[] = [];

function options(over: Partial<UpstreamOptions> = {}): UpstreamOptions {
  return { host: pg.host, port: pg.port, database: pg.database, user: pg.user, password: pg.password, ...over };
}

async function connect(over: Partial<UpstreamOptions> = {}): Promise<UpstreamConnection> {
  const conn = await connectUpstream(options(over));
  open.push(conn);
  return conn;
}

/** Send a simple Query on the handed-over socket and collect the raw messages with the handed-over reader. */
async function rawQuery(conn: UpstreamConnection, sql: string) {
  const out = { fields: [] as FieldDescription[], rows: [] as (string | null)[][], tag: '', status: '' };
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      conn.reader.push(chunk);
      try {
        while (conn.reader.next()) {
          const { code, buffer: b, start: s, length: n } = conn.reader;
          if (code === BackendCode.RowDescription) out.fields = parseRowDescription(b, s, n);
          else if (code === BackendCode.DataRow) out.rows.push(dataRowCells(b, s, n).map((c) => c?.toString() ?? null));
          else if (code === BackendCode.CommandComplete) out.tag = parseCommandComplete(b, s, n);
          else if (code === BackendCode.ErrorResponse) throw new Error('unexpected ErrorResponse');
          else if (code === BackendCode.ReadyForQuery) {
            out.status = parseReadyForQuery(b, s, n);
            conn.socket.off('data', onData);
            conn.socket.pause();
            resolve();
          }
        }
      } catch (e) {
        reject(e);
      }
    };
    conn.socket.on('data', onData);
    conn.socket.write(writeQuery(new MessageWriter(), sql).flush());
    conn.socket.resume();
  });
  return out;
}

async function enableTlsAndExtraAuth(): Promise<void> {
  certDir = await mkdtemp(join(tmpdir(), 'warden-pg-cert-'));
  const key = join(certDir, 'server.key');
  const crt = join(certDir, 'server.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    crt,
  ]);
  caCert = await readFile(crt, 'utf8');
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  await chown(certDir, uid, 0);
  await chown(key, uid, 0);
  await chown(crt, uid, 0);

  // md5 and cleartext roles get their own pg_hba lines ahead of the initdb default (scram-sha-256).
  const hba = join(pg.dataDir, 'data', 'pg_hba.conf');
  const lines = 'host all md5user 127.0.0.1/32 md5\nhost all plainuser 127.0.0.1/32 password\n';
  await writeFile(hba, lines + (await readFile(hba, 'utf8')));
  await runSql(
    pg.superuserUrl,
    `SET password_encryption = 'md5';
     CREATE ROLE md5user LOGIN PASSWORD '${MD5_PASSWORD}';
     RESET password_encryption;
     CREATE ROLE plainuser LOGIN PASSWORD '${PLAIN_PASSWORD}';
     GRANT ALL ON DATABASE ${pg.database} TO md5user, plainuser;`,
  );
  // ALTER SYSTEM refuses to run in the implicit transaction of a multi-statement query.
  await runSql(pg.superuserUrl, `ALTER SYSTEM SET ssl_cert_file = '${crt}'`);
  await runSql(pg.superuserUrl, `ALTER SYSTEM SET ssl_key_file = '${key}'`);
  await runSql(pg.superuserUrl, 'ALTER SYSTEM SET ssl = on');
  await runSql(pg.superuserUrl, 'SELECT pg_reload_conf()');
  // The postmaster applies SIGHUP asynchronously; wait until the new settings are visible.
  for (let i = 0; i < 50; i++) {
    const [row] = await runSql(pg.superuserUrl, 'SHOW ssl');
    if (row?.ssl === 'on') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 200));
}

before(async () => {
  // Its own cluster: edits pg_hba.conf, ALTER SYSTEM, reloads the server, cluster-wide roles.
  pg = await startPostgres({ ownCluster: true });
  await runSql(
    pg.url,
    `CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, name text);
     INSERT INTO customers VALUES (1, 'ann@example.com', 'Ann'), (2, 'bob@example.com', NULL);`,
  );
  await enableTlsAndExtraAuth();
});

after(async () => {
  for (const c of open) {
    closeUpstream(c);
    c.socket.destroy();
  }
  await pg?.stop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

describe('connectUpstream', () => {
  it('logs in with SCRAM-SHA-256 and hands over a paused socket, parameters and backend key', async () => {
    const conn = await connect({ tls: 'disable' });
    assert.equal(conn.tls, false);
    assert.match(conn.serverVersion, /^15\./);
    assert.equal(conn.parameters.get('client_encoding'), 'UTF8');
    assert.equal(conn.parameters.get('session_authorization'), pg.user);
    assert.ok(conn.backendKey.pid > 0);
    assert.equal(conn.reader.pending, 0);
    assert.equal(conn.socket.isPaused(), true);
    const res = await simpleQuery(conn, 'SELECT pg_backend_pid()::text AS pid, current_user AS who');
    assert.deepEqual(res.rows, [[String(conn.backendKey.pid), pg.user]]);
  });

  it('logs in with md5 (password_encryption=md5 role, md5 hba line)', async () => {
    const conn = await connect({ user: 'md5user', password: MD5_PASSWORD, tls: 'disable' });
    const res = await simpleQuery(conn, 'SELECT current_user');
    assert.equal(res.rows[0]![0], 'md5user');
    const [stored] = await runSql(
      pg.superuserUrl,
      "SELECT left(rolpassword, 3) AS p FROM pg_authid WHERE rolname = 'md5user'",
    );
    assert.equal(stored?.p, 'md5');
  });

  it('logs in with a cleartext password when the server asks for one', async () => {
    const conn = await connect({ user: 'plainuser', password: PLAIN_PASSWORD, tls: 'disable' });
    const res = await simpleQuery(conn, 'SELECT current_user');
    assert.deepEqual(res.rows, [['plainuser']]);
  });

  it('a wrong password fails with SQLSTATE 28P01 and never echoes the password', async () => {
    for (const user of [pg.user, 'md5user', 'plainuser']) {
      const bad = `wrong-${user}-secret`;
      await assert.rejects(connect({ user, password: bad, tls: 'disable' }), (e) => {
        assert.ok(isUpstreamError(e, 'server-error'), String(e));
        assert.equal(e.sqlstate, '28P01');
        assert.match(e.message, /password authentication failed/);
        assert.ok(
          !e.message.includes(bad) && !JSON.stringify(e.notice?.fields ? [...e.notice.fields] : []).includes(bad),
        );
        return true;
      });
    }
  });

  it('a closed port is target-unavailable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await assert.rejects(connectUpstream(options({ port })), (e) => {
      assert.ok(isUpstreamError(e, 'target-unavailable'), String(e));
      assert.ok(!e.message.includes(pg.password));
      return true;
    });
  });

  it('a server that accepts but never answers is target-unavailable after connectTimeoutMs', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const t0 = Date.now();
      await assert.rejects(connectUpstream(options({ port, connectTimeoutMs: 300 })), (e) => {
        assert.ok(isUpstreamError(e, 'target-unavailable'));
        assert.match(e.message, /timed out/);
        return true;
      });
      assert.ok(Date.now() - t0 < 3000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('negotiates TLS: prefer and require encrypt, verify-full checks the CA and host name', async () => {
    const preferred = await connect({ tls: 'prefer' });
    assert.equal(preferred.tls, true);
    assert.deepEqual(
      (await simpleQuery(preferred, 'SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows,
      [['true']],
    );
    assert.equal((await connect({ tls: 'require' })).tls, true);
    assert.equal((await connect({ tls: 'verify-full', caCert })).tls, true);
    assert.equal((await connect({ tls: 'verify-full', caCert, host: 'localhost' })).tls, true);
    // Not trusted without the CA.
    await assert.rejects(connect({ tls: 'verify-full' }), (e) => isUpstreamError(e, 'target-unavailable'));
  });

  it('require fails with tls-unavailable against a server without TLS', async () => {
    // A one-shot fake server answering 'N' to SSLRequest.
    const fake = createServer((s) => s.once('data', () => s.write('N')));
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    try {
      const port = (fake.address() as { port: number }).port;
      await assert.rejects(connectUpstream(options({ port, tls: 'require' })), (e) =>
        isUpstreamError(e, 'tls-unavailable'),
      );
    } finally {
      fake.close();
    }
  });
});

describe('wire over the handed-over connection', () => {
  it('parses RowDescription and DataRow of a simple query', async () => {
    const conn = await connect();
    const [oidRow] = await runSql(pg.url, "SELECT 'customers'::regclass::oid::int AS oid");
    const res = await rawQuery(conn, 'SELECT id, email, name FROM customers ORDER BY id');
    assert.deepEqual(
      res.fields.map((f) => [f.name, f.tableOID, f.attnum, f.typeOID, f.typlen, f.format]),
      [
        ['id', oidRow?.oid, 1, 23, 4, 0],
        ['email', oidRow?.oid, 2, 25, -1, 0],
        ['name', oidRow?.oid, 3, 25, -1, 0],
      ],
    );
    assert.deepEqual(res.rows, [
      ['1', 'ann@example.com', 'Ann'],
      ['2', 'bob@example.com', null],
    ]);
    assert.equal(res.tag, 'SELECT 2');
    assert.equal(res.status, 'I');
  });

  it('simpleQuery reports server errors with SQLSTATE and leaves the connection usable', async () => {
    const conn = await connect();
    await assert.rejects(simpleQuery(conn, 'SELECT * FROM no_such_table'), (e) => {
      assert.ok(isUpstreamError(e, 'server-error'));
      assert.equal(e.sqlstate, '42P01');
      return true;
    });
    assert.deepEqual((await simpleQuery(conn, 'SELECT 1 AS one')).rows, [['1']]);
  });

  it('sendCancel cancels SELECT pg_sleep(10)', async () => {
    const conn = await connect();
    const t0 = Date.now();
    // Handler attached now: the rejection may arrive while sendCancel is still settling.
    const sleeping = assert.rejects(simpleQuery(conn, 'SELECT pg_sleep(10)'), (e) => {
      assert.ok(isUpstreamError(e, 'server-error'));
      assert.equal(e.sqlstate, '57014');
      return true;
    });
    await new Promise((r) => setTimeout(r, 300));
    await sendCancel(pg.host, pg.port, conn.backendKey.pid, conn.backendKey.secret);
    await sleeping;
    assert.ok(Date.now() - t0 < 5000, 'cancelled well before 10 s');
    assert.deepEqual((await simpleQuery(conn, 'SELECT 2')).rows, [['2']]);
  });
});

describe('CatalogLookup', () => {
  it('resolves an aliased column to its source table and column, with one side connection and a cache', async () => {
    const conn = await connect();
    const res = await rawQuery(conn, 'SELECT email AS e, 1 AS one, c.name AS who FROM customers c WHERE id = 1');
    assert.deepEqual(
      res.fields.map((f) => f.name),
      ['e', 'one', 'who'],
    );
    let connects = 0;
    const catalog = new CatalogLookup(options(), async (o) => {
      connects++;
      return connectUpstream(o);
    });
    try {
      assert.equal(connects, 0, 'lazily connected');
      const sources = await catalog.resolve(res.fields);
      assert.deepEqual(sources, [
        { schema: 'public', table: 'customers', column: 'email' },
        null,
        { schema: 'public', table: 'customers', column: 'name' },
      ]);
      // Cached: a second resolve (and one with an unknown attnum) reuses the same side connection.
      const again = await catalog.resolve([...res.fields, { tableOID: res.fields[0]!.tableOID, attnum: 99 }]);
      assert.deepEqual(again, [...sources, null]);
      assert.equal(connects, 1);
    } finally {
      await catalog.close();
    }
  });

  it('fails with target-unavailable when the target is down, and retries later', async () => {
    const catalog = new CatalogLookup(options({ port: 1, connectTimeoutMs: 500 }));
    try {
      await assert.rejects(catalog.resolve([{ tableOID: 16384, attnum: 1 }]), (e) =>
        isUpstreamError(e, 'target-unavailable'),
      );
      await assert.rejects(catalog.resolve([{ tableOID: 16384, attnum: 1 }]), (e) =>
        isUpstreamError(e, 'target-unavailable'),
      );
    } finally {
      await catalog.close();
    }
  });
});
