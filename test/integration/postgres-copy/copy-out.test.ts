// COPY … TO STDOUT output from a real PostgreSQL 15, through the COPY masker exactly as the proxy
// will run it (spec → describe on the side connection → column sources → plan → CopyData), then
// loaded back into PostgreSQL with COPY … FROM STDIN: the masked stream must still parse in its
// format with the same row count, and no original email/phone/SSN/card value may survive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { initAnalysis } from '../../../src/analysis/pg-parser.js';
import { compileMasker } from '../../../src/masking/index.js';
import { ColumnSources } from '../../../src/protocols/postgres/column-sources.js';
import {
  CopyMaskError,
  CopyOutMasker,
  copyColumnPlan,
  copyRefusal,
  copySpecOf,
  describeSql,
} from '../../../src/protocols/postgres/copy/index.js';
import {
  CatalogLookup,
  closeUpstream,
  connectUpstream,
  type UpstreamConnection,
} from '../../../src/protocols/postgres/upstream/index.js';
import { SocketMessages } from '../../../src/protocols/postgres/upstream/socket-messages.js';
import {
  BackendCode,
  type CopyResponse,
  MessageWriter,
  parseCopyResponse,
  parseErrorResponse,
  writeQuery,
} from '../../../src/protocols/postgres/wire/index.js';
import { startShopPostgres } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';

const masker = compileMasker({
  columns: ['email', 'phone', 'ssn', 'card_number'],
  detect: ['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret'],
});

interface ServerCopy {
  response: CopyResponse;
  /** Each CopyData frame exactly as the server sent it. */
  frames: Buffer[];
  tag: string;
}

/** Runs one COPY … TO STDOUT on a raw connection and returns the server's frames. */
async function serverCopy(conn: UpstreamConnection, sql: string): Promise<ServerCopy> {
  const messages = new SocketMessages(conn.socket, conn.reader);
  try {
    conn.socket.write(writeQuery(new MessageWriter(256), sql).flush());
    let response: CopyResponse | undefined;
    const frames: Buffer[] = [];
    let tag = '';
    let error = '';
    for (;;) {
      const m = await messages.next();
      if (m.code === BackendCode.CopyOutResponse) response = parseCopyResponse(m.buffer, m.start, m.length);
      else if (m.code === BackendCode.CopyData) frames.push(Buffer.from(m.frame()));
      else if (m.code === BackendCode.CommandComplete) tag = m.buffer.toString('utf8', m.start, m.start + m.length - 1);
      else if (m.code === BackendCode.ErrorResponse) error = parseErrorResponse(m.buffer, m.start, m.length).message;
      else if (m.code === BackendCode.ReadyForQuery) break;
    }
    if (error) throw new Error(error);
    assert.ok(response, 'CopyOutResponse');
    return { response, frames, tag };
  } finally {
    messages.detach();
  }
}

describe('COPY TO STDOUT masking against PostgreSQL 15', () => {
  let pg: TestPostgres;
  let conn: UpstreamConnection;
  let catalog: CatalogLookup;
  let sources: ColumnSources;
  let secrets: string[];

  before(async () => {
    await initAnalysis();
    pg = await startShopPostgres();
    // A row written to trip every format: delimiters, quotes, escapes and newlines around the secrets.
    await runSql(
      pg.url,
      `INSERT INTO customers (name, email, phone, ssn, card_number, notes) VALUES
       ('Eve "4" O''Neil', 'eve.x@example.com', '+1 415 555 0100', '555-12-3456', '4111 1111 1111 1111',
        E'tab\\there ada@example.com\\nnew line \\\\ back, "q" 4 @ - . 219-09-9999 ;')`,
    );
    const opts = {
      host: pg.host,
      port: pg.port,
      database: pg.database,
      user: pg.user,
      password: pg.password,
      tls: 'disable' as const,
    };
    conn = await connectUpstream(opts);
    catalog = new CatalogLookup(opts);
    sources = new ColumnSources(catalog);
    const rows = await runSql(pg.url, 'SELECT email, phone, ssn, card_number FROM customers');
    secrets = [...new Set(rows.flatMap((r) => Object.values(r).filter((v): v is string => typeof v === 'string')))];
    secrets.push('alan.t@bletchley.example', 'ada@example.com', '219-09-9999');
    assert.ok(secrets.length > 150);
  });

  after(async () => {
    if (conn) closeUpstream(conn);
    await catalog?.close();
    await pg?.stop();
  });

  /** The proxy's path for one COPY; returns the frames the client would get. */
  async function masked(sql: string): Promise<{ out: Buffer[]; server: ServerCopy; copier: CopyOutMasker }> {
    const spec = copySpecOf(sql);
    assert.ok(spec, sql);
    assert.equal(copyRefusal(spec, masker), null);
    const fields = await sources.describe(describeSql(spec));
    assert.ok(fields, `described: ${describeSql(spec)}`);
    const plan = copyColumnPlan(spec, fields, await sources.resolve(fields), masker);
    const server = await serverCopy(conn, sql);
    const copier = new CopyOutMasker({ spec, response: server.response, plan, masker, keepRows: 10 });
    const out: Buffer[] = [];
    for (const f of server.frames) {
      const r = copier.data(f, f, 5, f.length - 5);
      if (r) out.push(r);
    }
    const last = copier.end();
    if (last) out.push(last);
    return { out, server, copier };
  }

  /** Loads the client's bytes back with COPY … FROM STDIN into a scratch table shaped like `shape`; returns its rows. */
  async function loadBack(out: Buffer[], shape: string, fromOptions: string): Promise<Record<string, unknown>[]> {
    const table = `scratch_${Math.random().toString(36).slice(2, 10)}`;
    await runSql(pg.url, `CREATE TABLE ${table} AS ${shape} WITH NO DATA`);
    const payload = Buffer.concat(out.map((f) => f.subarray(5)));
    execFileSync(
      'psql',
      [pg.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `COPY ${table} FROM STDIN ${fromOptions}`],
      { input: payload },
    );
    return runSql(pg.url, `SELECT * FROM ${table}`);
  }

  function assertNoSecrets(out: Buffer[], rows: Record<string, unknown>[]): void {
    const bytes = Buffer.concat(out.map((f) => f.subarray(5))).toString('latin1');
    const raw = Buffer.concat(out.map((f) => f.subarray(5))).toString('utf8');
    for (const s of secrets) assert.ok(!bytes.includes(s) && !raw.includes(s), `raw output still holds ${s}`);
    for (const row of rows) {
      const text = JSON.stringify(row);
      for (const s of secrets)
        assert.ok(!text.includes(JSON.stringify(s).slice(1, -1)), `loaded row still holds ${s}: ${text}`);
    }
  }

  const CASES: { name: string; sql: string; shape: string; from: string }[] = [
    {
      name: "text, DELIMITER '@' on the email column",
      sql: "COPY customers (email) TO STDOUT WITH (DELIMITER '@')",
      shape: 'SELECT email FROM customers',
      from: "WITH (DELIMITER '@')",
    },
    {
      name: "text, DELIMITER '-' on the ssn column",
      sql: "COPY customers (ssn) TO STDOUT WITH (DELIMITER '-')",
      shape: 'SELECT ssn FROM customers',
      from: "WITH (DELIMITER '-')",
    },
    {
      name: "text, DELIMITER ' ' (phones are split on it), every column, custom NULL",
      sql: "COPY customers TO STDOUT DELIMITER ' ' NULL 'NADA'",
      shape: 'SELECT * FROM customers',
      from: "DELIMITER ' ' NULL 'NADA'",
    },
    {
      name: "CSV, DELIMITER '.' (emails are split on it), every column",
      sql: "COPY customers TO STDOUT WITH (FORMAT csv, DELIMITER '.')",
      shape: 'SELECT * FROM customers',
      from: "WITH (FORMAT csv, DELIMITER '.')",
    },
    {
      name: 'text defaults with HEADER, every column',
      sql: 'COPY customers TO STDOUT (HEADER)',
      shape: 'SELECT * FROM customers',
      from: '(HEADER)',
    },
    {
      name: "CSV with QUOTE '4' (old syntax)",
      sql: "COPY customers TO STDOUT CSV QUOTE '4'",
      shape: 'SELECT * FROM customers',
      from: "CSV QUOTE '4'",
    },
    {
      name: "CSV, DELIMITER '@', ESCAPE '\\', FORCE_QUOTE *, HEADER",
      sql: "COPY customers (id, email, notes, phone) TO STDOUT (FORMAT csv, DELIMITER '@', ESCAPE '\\', FORCE_QUOTE *, HEADER)",
      shape: 'SELECT id, email, notes, phone FROM customers',
      from: "(FORMAT csv, DELIMITER '@', ESCAPE '\\', HEADER)",
    },
    {
      name: 'CSV of a query with aliases and expressions (detectors catch what names cannot)',
      sql: "COPY (SELECT email AS e, ssn || '' AS s, card_number::varchar AS c, notes, id FROM customers) TO STDOUT (FORMAT csv, DELIMITER '-', QUOTE '1')",
      shape: "SELECT email AS e, ssn || '' AS s, card_number::varchar AS c, notes, id FROM customers",
      from: "(FORMAT csv, DELIMITER '-', QUOTE '1')",
    },
  ];

  for (const c of CASES) {
    it(`${c.name}: parses back with the same row count, nothing original left`, async () => {
      const { out, server, copier } = await masked(c.sql);
      const count = Number(server.tag.split(' ')[1]);
      assert.ok(count > 50, server.tag);
      assert.equal(copier.rowCount, count);
      assert.equal(out.length, server.frames.length, 'one client frame per server frame');
      const rows = await loadBack(out, c.shape, c.from);
      assert.equal(rows.length, count);
      assertNoSecrets(out, rows);
      // Unmasked values come through intact.
      if (c.shape.includes('*')) assert.ok(rows.some((r) => r['name'] === 'Ada Lovelace'));
      assert.equal(copier.rows.length, 10);
      for (const r of copier.rows)
        for (const s of secrets) assert.ok(!JSON.stringify(r).includes(s), 'recorded rows are masked');
    });
  }

  it('binary COPY of every customers column loads back with COPY … FROM STDIN (FORMAT binary)', async () => {
    const { out, server } = await masked('COPY customers TO STDOUT (FORMAT binary)');
    const rows = await loadBack(out, 'SELECT * FROM customers', '(FORMAT binary)');
    assert.equal(rows.length, Number(server.tag.split(' ')[1]));
    assertNoSecrets(out, rows);
    const ada = rows.find((r) => r['name'] === 'Ada Lovelace');
    assert.ok(ada);
    assert.equal(ada['email'], masker.redactColumnValue('ada@example.com'));
    assert.ok(ada['created_at'] instanceof Date);
  });

  it('binary COPY of a join with int, numeric, text, varchar, timestamptz, bool and jsonb stays loadable', async () => {
    const query =
      'SELECT o.id, o.customer_id, o.amount, o.status, o.created_at, c.email, c.phone::varchar AS p, true AS flag, ' +
      "to_jsonb(c) AS doc, replace(c.card_number, ' ', '')::numeric AS card_num, c.id::int8 AS big " +
      'FROM orders o JOIN customers c ON c.id = o.customer_id';
    const { out, server, copier } = await masked(`COPY (${query}) TO STDOUT BINARY`);
    assert.equal(server.tag, 'COPY 200');
    const rows = await loadBack(out, query, 'WITH (FORMAT binary)');
    assert.equal(rows.length, 200);
    assertNoSecrets(out, rows);
    const sample = rows[0]!;
    assert.equal(sample['flag'], true);
    assert.equal(sample['card_num'], null, 'a card number in a numeric becomes NULL');
    assert.equal(sample['big'], String(sample['customer_id']), 'an ordinary int8 is kept');
    assert.equal(typeof sample['amount'], 'string');
    const doc = sample['doc'] as Record<string, unknown>;
    assert.equal(typeof doc['name'], 'string', 'jsonb still valid, unmasked keys kept');
    assert.notEqual(doc['email'], undefined);
    assert.equal(copier.rowCount, 200);
  });

  it("NULL 'ada@example.com' is refused before it runs", () => {
    const spec = copySpecOf("COPY customers (email) TO STDOUT NULL 'ada@example.com'");
    assert.ok(spec);
    assert.match(copyRefusal(spec, masker)!, /NULL/);
  });

  it('a non-UTF8 ENCODING is refused', () => {
    const spec = copySpecOf("COPY customers TO STDOUT (ENCODING 'LATIN1')");
    assert.ok(spec?.refuse);
    assert.throws(
      () =>
        new CopyOutMasker({
          spec,
          response: { overallFormat: 0, columnFormats: [0] },
          plan: null,
          masker,
          keepRows: 0,
        }),
      CopyMaskError,
    );
  });

  it('describe runs nothing: a DML inner query is described, not executed', async () => {
    const before = await runSql(pg.url, 'SELECT count(*)::int AS n FROM orders');
    const fields = await sources.describe(
      describeSql(copySpecOf('COPY (DELETE FROM orders RETURNING id, amount) TO STDOUT')!),
    );
    assert.deepEqual(
      fields?.map((f) => f.name),
      ['id', 'amount'],
    );
    assert.deepEqual(await runSql(pg.url, 'SELECT count(*)::int AS n FROM orders'), before);
    assert.equal(await sources.describe('SELECT * FROM no_such_table'), null, 'a describe error is null (fail closed)');
    // The side connection stays usable after an error.
    assert.equal((await sources.describe('SELECT 1 AS one'))?.[0]?.name, 'one');
  });
});
