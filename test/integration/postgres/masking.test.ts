// Alias-proof masking through the PostgreSQL front door: by source column (aliases), by content
// (expressions, JSON, COPY, error details), text and binary result formats. No original value
// reaches an agent's client or its session recording; a dba (unmaskedFor) sees clear values.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { binaryNumericText } from '../../../src/protocols/postgres/binary-text.js';
import {
  BackendCode,
  dataRowCells,
  parseNotificationResponse,
  parseParameterStatus,
  writeBind,
  writeExecute,
  writeParse,
  writeQuery,
  writeSync,
} from '../../../src/protocols/postgres/wire/index.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';
import { errorFields, psql, RawClient, readRecordings } from './support.js';

type PgError = Error & { code?: string; detail?: string };

// Sensitive values of the sample data (src/demo/shop.sql), in the forms they are stored.
const ORIGINALS = [
  'ada@example.com',
  'alan@example.org',
  'grace@example.net',
  'edsger@example.com',
  'barbara@example.com',
  'alan.t@bletchley.example',
  '+1 415 555 0132',
  '+44 20 7946 0958',
  '(202) 555-0173',
  '+31 20 555 0199',
  '+1 617 555 0144',
  '123-45-6789',
  '219-09-9999',
  '078-05-1120',
  '536-22-1234',
  '412-31-8765',
  '4111 1111 1111 1111',
  '5555555555554444',
  '378282246310005',
  '6011111111111117',
  '4012888888881881',
  'customer7@example.com',
  '4000000000000002',
];

/** Fails naming the first original value found in `text`. */
function assertNoOriginals(text: string, where: string): void {
  for (const v of ORIGINALS) assert.ok(!text.includes(v), `${where} contains the original value ${v}`);
}

describe('postgres front door: masking', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let agent: string;
  let dba: string;
  let client: pg.Client;
  /** Everything the agent's clients received, checked for originals at the end. */
  const received: string[] = [];

  before(async () => {
    target = await startShopPostgres();
    // A table with a non-text column masked by name, created directly on the target (DDL is
    // blocked through the gateway).
    await runSql(
      target.url,
      "CREATE TABLE cards (id int PRIMARY KEY, card_number bigint, holder text); INSERT INTO cards VALUES (1, 4111111111111111, 'ada@example.com')",
    );
    gw = await startTestGateway(target);
    agent = await gw.token('agent-mask', ['agents']);
    dba = await gw.token('dba-clear', ['dba']);
    client = new pg.Client({ connectionString: gw.url(agent) });
    await client.connect();
  });
  after(async () => {
    await client?.end().catch(() => {});
    await gw?.stop();
    await target?.stop();
  });

  async function agentQuery(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    const r = await client.query(text, values);
    received.push(JSON.stringify(r.rows));
    return r;
  }

  it('SELECT email, email AS e, lower(email): every form is redacted (simple and extended)', async () => {
    for (const values of [undefined, [1]]) {
      const where = values ? 'id = $1' : 'id = 1';
      const a = await agentQuery(`SELECT email FROM customers WHERE ${where}`, values);
      const b = await agentQuery(`SELECT email AS e FROM customers WHERE ${where}`, values);
      const c = await agentQuery(`SELECT lower(email) AS l FROM customers WHERE ${where}`, values);
      for (const v of [a.rows[0].email, b.rows[0].e, c.rows[0].l]) {
        assert.equal(typeof v, 'string');
        assert.notEqual(v, 'ada@example.com');
        assert.match(v, /\*/);
      }
    }
    const all = await agentQuery(
      'SELECT c.email AS x, c.phone AS y, c.ssn AS z, c.card_number AS w, c.notes FROM customers c ORDER BY id',
    );
    assert.equal(all.rows.length, 50);
  });

  it('row_to_json(c) masks the JSON keys and the values inside', async () => {
    const r = await agentQuery('SELECT row_to_json(c) AS j FROM customers c ORDER BY id LIMIT 5');
    assert.equal(r.rows.length, 5);
    const first = r.rows[0].j as Record<string, unknown>;
    assert.equal(first.name, 'Ada Lovelace');
    assert.notEqual(first.email, 'ada@example.com');
    const j2 = await agentQuery(
      "SELECT json_build_object('contact', email, 'n', notes)::text AS t FROM customers WHERE id = 2",
    );
    assert.ok(!String(j2.rows[0].t).includes('alan'), j2.rows[0].t);
  });

  it('COPY (SELECT email …) TO STDOUT through psql is masked', async () => {
    const r = await psql(gw, agent, {
      command: 'COPY (SELECT email, phone, ssn, card_number, notes FROM customers ORDER BY id) TO STDOUT',
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 50);
    received.push(r.stdout);
    const r2 = await psql(gw, agent, { command: 'COPY customers TO STDOUT' });
    assert.equal(r2.code, 0, r2.stderr);
    received.push(r2.stdout);
    assertNoOriginals(r.stdout + r2.stdout, 'COPY output');
  });

  it('numbers through psql: short ones pass unscanned, long ones that hold a card, SSN or phone are NULL', async () => {
    // Short int/float/numeric cells skip the detector scan (SHORTEST_DETECTABLE_NUMBER); the
    // long ones below must still be caught, in every numeric type.
    const r = await psql(
      gw,
      agent,
      {
        command:
          "SELECT 42::int2, 1234567::int4, -1234567::int8, 1498.5::numeric, 0.125::float8, 'NaN'::numeric, " +
          "5555555555554444::int8, 378282246310005::numeric, 4111111111111111::int8::numeric, '01234567890'::numeric, " +
          'id, id::numeric * 1000000007 FROM customers WHERE id = 1',
      },
      { extraArgs: ['-F', ','] },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '42,1234567,-1234567,1498.5,0.125,NaN,,,,1234567890,1,1000000007');
  });

  it('binary result format: text values redacted, masked non-text values NULL (node-postgres binary)', async () => {
    const bin = new pg.Client({ connectionString: gw.url(agent), binary: true } as pg.ClientConfig);
    await bin.connect();
    try {
      const r = await bin.query('SELECT id, card_number, holder FROM cards WHERE id = $1', [1]);
      received.push(JSON.stringify(r.rows));
      assert.equal(r.rows[0].id, 1);
      assert.equal(r.rows[0].card_number, null);
      assert.notEqual(r.rows[0].holder, 'ada@example.com');
      assert.match(r.rows[0].holder, /\*/);
      const e = await bin.query('SELECT email AS e, name FROM customers WHERE id = $1', [1]);
      received.push(JSON.stringify(e.rows));
      assert.notEqual(e.rows[0].e, 'ada@example.com');
      assert.equal(e.rows[0].name, 'Ada Lovelace');
    } finally {
      await bin.end();
    }
  });

  it('binary result format: raw Bind with result format 1; a detected non-text value becomes NULL', async () => {
    const c = await RawClient.session(gw.pgPort, agent);
    try {
      const w = c.w;
      writeParse(
        w,
        '',
        "SELECT email, card_number, 5555555555554444::int8 AS n, 42::int8 AS k, 378282246310005::numeric AS m, convert_to(email, 'UTF8') AS b, ARRAY[email, name] AS a, 12.5::numeric AS x FROM customers WHERE id = 1",
      );
      writeBind(w, { resultFormats: [1] });
      writeExecute(w);
      writeSync(w);
      c.write(w.flush());
      await c.waitFor((m) => m.code === BackendCode.ReadyForQuery);
      const msgs = c.take();
      const row = msgs.find((m) => m.code === BackendCode.DataRow);
      assert.ok(row, msgs.map((m) => String.fromCharCode(m.code)).join(''));
      const cells = dataRowCells(row.payload, 0, row.payload.length);
      received.push(cells.map((x) => x?.toString('utf8') ?? 'NULL').join('|'));
      assert.notEqual(cells[0]?.toString('utf8'), 'ada@example.com');
      assert.match(cells[0]?.toString('utf8') ?? '', /\*/);
      assert.notEqual(cells[1]?.toString('utf8'), '4111 1111 1111 1111');
      assert.equal(cells[2], null, 'a Luhn-valid card number in an int8 column is NULL');
      assert.equal(cells[3]?.readBigInt64BE(0), 42n);
      assert.equal(cells[4], null, 'a card number in a numeric is NULL');
      assert.equal(cells[5], null, 'an email inside a bytea is NULL');
      assert.equal(cells[6], null, 'an email inside a binary text[] is NULL');
      assert.notEqual(cells[7], null, 'a plain numeric passes');
      // Text format: the same non-text values are NULL too (bytea hex decoded first).
      writeParse(
        w,
        '',
        "SELECT 5555555555554444::int8 AS n, convert_to(email, 'UTF8') AS b, 42::int8 AS k FROM customers WHERE id = 1",
      );
      writeBind(w, {});
      writeExecute(w);
      writeSync(w);
      c.write(w.flush());
      await c.waitFor((m) => m.code === BackendCode.ReadyForQuery);
      const textRow = c.take().find((m) => m.code === BackendCode.DataRow);
      assert.ok(textRow);
      const t = dataRowCells(textRow.payload, 0, textRow.payload.length);
      assert.deepEqual(
        t.map((x) => x?.toString('utf8') ?? null),
        [null, null, '42'],
      );
    } finally {
      c.destroy();
    }
  });

  it('binary numeric decoding agrees with the server text form', async () => {
    const c = await RawClient.session(gw.pgPort, dba);
    try {
      const values = [
        '0',
        '1',
        '-1',
        '12.5',
        '0.0001',
        '-0.000123',
        '10000',
        '123456789012345678901234567890',
        '1e-20',
        '99990000',
        '4111111111111111.00',
      ];
      const list = values.map((v) => `'${v}'::numeric`).join(', ');
      for (const format of [0, 1]) {
        writeParse(c.w, '', `SELECT ${list}`);
        writeBind(c.w, { resultFormats: [format] });
        writeExecute(c.w);
        writeSync(c.w);
      }
      c.write(c.w.flush());
      await c.waitFor(() => c.messages.filter((m) => m.code === BackendCode.ReadyForQuery).length === 2);
      const [textRow, binRow] = c.take().filter((m) => m.code === BackendCode.DataRow);
      const text = dataRowCells(textRow!.payload, 0, textRow!.payload.length).map((x) => x?.toString('utf8'));
      const bin = dataRowCells(binRow!.payload, 0, binRow!.payload.length).map((x) =>
        x ? binaryNumericText(x, 0, x.length) : null,
      );
      assert.deepEqual(bin, text);
    } finally {
      c.destroy();
    }
  });

  it('a unique violation on email: the detail quoting the value is masked', async () => {
    await assert.rejects(
      agentQuery("INSERT INTO customers (name, email) VALUES ('Dup', 'ada@example.com')"),
      (err: PgError) => {
        assert.equal(err.code, '23505');
        received.push(`${err.message} ${err.detail ?? ''}`);
        assert.match(err.detail ?? '', /^Key \(email\)=\(.+\) already exists\.$/);
        assert.ok(!(err.detail ?? '').includes('ada@example.com'), err.detail);
        return true;
      },
    );
    // Extended protocol, value as a parameter.
    await assert.rejects(
      agentQuery('INSERT INTO customers (name, email) VALUES ($1, $2)', ['Dup', 'grace@example.net']),
      (err: PgError) => {
        assert.equal(err.code, '23505');
        received.push(`${err.message} ${err.detail ?? ''}`);
        return true;
      },
    );
    // Through psql (simple protocol), with every error field shown.
    const r = await psql(
      gw,
      agent,
      { command: "INSERT INTO customers (name, email) VALUES ('Dup', 'edsger@example.com')" },
      { extraArgs: ['-v', 'VERBOSITY=verbose'] },
    );
    assert.match(r.stderr, /23505/);
    assert.match(r.stderr, /DETAIL: {2}Key \(email\)=/);
    received.push(r.stderr);
    const raw = await RawClient.session(gw.pgPort, agent);
    try {
      raw.write(
        writeParse(raw.w, '', "INSERT INTO customers (name, email) VALUES ('Dup', 'barbara@example.com')").flush(),
      );
      raw.write(Buffer.concat([writeBind(raw.w, {}).flush(), writeExecute(raw.w).flush(), writeSync(raw.w).flush()]));
      const e = await raw.waitFor((m) => m.code === BackendCode.ErrorResponse);
      const f = errorFields(e);
      assert.equal(f.code, '23505');
      received.push(JSON.stringify(f));
    } finally {
      raw.destroy();
    }
  });

  it('side channels: notification payloads and reported settings are masked', async () => {
    const c = await RawClient.session(gw.pgPort, agent);
    try {
      c.write(writeQuery(c.w, 'LISTEN leak').flush());
      await c.waitFor((m) => m.code === BackendCode.ReadyForQuery);
      c.take();
      c.write(writeQuery(c.w, "SELECT pg_notify('leak', email) FROM customers WHERE id = 1").flush());
      const note = await c.waitFor((m) => m.code === BackendCode.NotificationResponse);
      const n = parseNotificationResponse(note.payload, 0, note.payload.length);
      assert.equal(n.channel, 'leak');
      assert.notEqual(n.payload, 'ada@example.com');
      assert.match(n.payload, /\*/);
      await c.waitFor((m) => m.code === BackendCode.ReadyForQuery);
      c.take();
      c.write(
        writeQuery(c.w, "SELECT set_config('application_name', email, false) AS s FROM customers WHERE id = 2").flush(),
      );
      await c.waitFor((m) => m.code === BackendCode.ReadyForQuery);
      const msgs = c.take();
      const status = msgs.find((m) => m.code === BackendCode.ParameterStatus);
      assert.ok(status, 'application_name is reported');
      const p = parseParameterStatus(status.payload, 0, status.payload.length);
      assert.equal(p.name, 'application_name');
      received.push(n.payload, p.value, ...msgs.map((m) => m.payload.toString('latin1')));
      assert.ok(!p.value.includes('alan@example.org'), p.value);
    } finally {
      c.destroy();
    }
  });

  it('no original value reached the agent, nor any agent recording', async () => {
    assertNoOriginals(received.join('\n'), 'what the agent received');
    await client.end();
    // Let the session end be written.
    await new Promise((r) => setTimeout(r, 300));
    const recordings = await readRecordings(gw);
    const agentRecordings = recordings.filter((r) => r.start.sub === 'agent-mask');
    assert.ok(agentRecordings.length >= 4, `agent sessions recorded: ${agentRecordings.length}`);
    const results = agentRecordings
      .flatMap((r) => r.events)
      .filter((e) => e.type === 'result' && Array.isArray(e.rows));
    assert.ok(results.length >= 5, 'result rows are recorded');
    for (const r of agentRecordings) assertNoOriginals(r.text, `recording of ${String(r.start.session)}`);
  });

  it('a dba (unmaskedFor) sees clear values', async () => {
    const c = new pg.Client({ connectionString: gw.url(dba) });
    await c.connect();
    try {
      const r = await c.query('SELECT email AS e, lower(email) AS l, ssn FROM customers WHERE id = $1', [1]);
      assert.deepEqual(r.rows[0], { e: 'ada@example.com', l: 'ada@example.com', ssn: '123-45-6789' });
      const b = await c.query('SELECT card_number FROM cards');
      assert.equal(b.rows[0].card_number, '4111111111111111');
    } finally {
      await c.end();
    }
    const p = await psql(gw, dba, { command: 'COPY (SELECT email FROM customers WHERE id = 2) TO STDOUT' });
    assert.equal(p.stdout.trim(), 'alan@example.org');
  });
});
