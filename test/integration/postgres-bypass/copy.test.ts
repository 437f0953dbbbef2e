// Finding 6: COPY … TO STDOUT output must be masked whatever its format options. A delimiter that
// occurs inside the values ('@' in emails, '-' in SSNs), a CSV quote character that occurs in card
// numbers, a query COPY, and the binary format must not let a clear value through, and binary
// output must stay a valid COPY stream.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { WireClient } from '../../helpers/wire-client.js';
import { conninfo, runProgram } from '../postgres/support.js';
import { assertNoLeak, shopSecrets } from './support.js';

/** Fields of COPY text format (backslash escapes undone, \N as null). */
export function decodeCopyText(data: string, delimiter = '\t'): (string | null)[] {
  const out: (string | null)[] = [];
  for (const line of data.split('\n')) {
    if (line === '') continue;
    let field = '';
    let escapedOnly = true;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i] as string;
      if (ch === '\\' && i + 1 < line.length) {
        const n = line[++i] as string;
        const simple: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
        if (n === 'N' && field === '' && (i + 1 === line.length || line[i + 1] === delimiter)) {
          out.push(null);
          i++;
          field = '';
          escapedOnly = false;
          continue;
        }
        if (n === 'x' && /^[0-9a-fA-F]{1,2}/.test(line.slice(i + 1))) {
          const hex = /^[0-9a-fA-F]{1,2}/.exec(line.slice(i + 1))?.[0] as string;
          field += String.fromCharCode(Number.parseInt(hex, 16));
          i += hex.length;
        } else if (/[0-7]/.test(n)) {
          const oct = /^[0-7]{1,3}/.exec(line.slice(i))?.[0] as string;
          field += String.fromCharCode(Number.parseInt(oct, 8));
          i += oct.length - 1;
        } else field += simple[n] ?? n;
      } else if (ch === delimiter) {
        out.push(field);
        field = '';
        escapedOnly = true;
      } else field += ch;
    }
    if (escapedOnly || field !== '') out.push(field);
  }
  return out;
}

/** Fields of COPY CSV format with the given delimiter and quote (escape = quote). */
export function decodeCsv(data: string, delimiter = ',', quote = '"'): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < data.length; i++) {
    const ch = data[i] as string;
    if (quoted) {
      if (ch === quote && data[i + 1] === quote) {
        field += quote;
        i++;
      } else if (ch === quote) quoted = false;
      else field += ch;
    } else if (ch === quote) quoted = true;
    else if (ch === delimiter || ch === '\n') {
      out.push(field);
      field = '';
    } else if (ch !== '\r') field += ch;
  }
  if (field !== '') out.push(field);
  return out;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Parse a binary COPY stream strictly; throws on any structural fault. */
export function parseBinaryCopy(buf: Buffer, columns: number): (Buffer | null)[][] {
  assert.ok(
    buf.subarray(0, 11).equals(SIGNATURE),
    `binary COPY signature, got ${JSON.stringify(buf.subarray(0, 24).toString('latin1'))}`,
  );
  let off = 11;
  const flags = buf.readInt32BE(off);
  assert.equal(flags & 0xffff, 0, 'no critical header flags');
  off += 4;
  const ext = buf.readInt32BE(off);
  off += 4 + ext;
  const tuples: (Buffer | null)[][] = [];
  for (;;) {
    assert.ok(off + 2 <= buf.length, 'stream ends before its trailer');
    const n = buf.readInt16BE(off);
    off += 2;
    if (n === -1) break;
    assert.equal(n, columns, `tuple ${tuples.length} has ${n} fields`);
    const t: (Buffer | null)[] = [];
    for (let i = 0; i < n; i++) {
      const len = buf.readInt32BE(off);
      off += 4;
      if (len === -1) t.push(null);
      else {
        assert.ok(len >= 0 && off + len <= buf.length, `field length ${len} fits`);
        t.push(buf.subarray(off, off + len));
        off += len;
      }
    }
    tuples.push(t);
  }
  assert.equal(off, buf.length, 'nothing after the trailer');
  return tuples;
}

describe('bypass: COPY TO STDOUT format options', () => {
  const suite = shopGatewaySuite();

  async function copyOut(sub: string, sql: string): Promise<{ data: Buffer; error?: string }> {
    const c = await WireClient.gateway(suite.gw.pgPort, await suite.gw.token(sub, ['agents']));
    try {
      const r = await c.query(sql);
      return { data: r.copy, ...(r.errors[0] ? { error: `${r.errors[0].code} ${r.errors[0].message}` } : {}) };
    } finally {
      c.destroy();
    }
  }

  const textCases: [string, (s: string) => (string | null)[]][] = [
    ['COPY customers TO STDOUT', (s) => decodeCopyText(s)],
    ["COPY customers (email) TO STDOUT WITH (DELIMITER '@')", (s) => decodeCopyText(s, '@')],
    ["COPY customers (ssn) TO STDOUT WITH (DELIMITER '-')", (s) => decodeCopyText(s, '-')],
    ["COPY customers (phone) TO STDOUT WITH (DELIMITER ' ')", (s) => decodeCopyText(s, ' ')],
    ["COPY customers (card_number) TO STDOUT WITH (FORMAT csv, QUOTE '4')", (s) => decodeCsv(s, ',', '4')],
    [
      "COPY customers (card_number, ssn) TO STDOUT WITH (FORMAT csv, DELIMITER '1', QUOTE '5')",
      (s) => decodeCsv(s, '1', '5'),
    ],
    ['COPY customers TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE *)', (s) => decodeCsv(s)],
    ['COPY (SELECT email FROM customers) TO STDOUT', (s) => decodeCopyText(s)],
    ["COPY (SELECT 'x' || email, ssn AS s FROM customers) TO STDOUT WITH (FORMAT csv)", (s) => decodeCsv(s)],
  ];

  for (const [sql, decode] of textCases) {
    it(sql, async () => {
      const secrets = await shopSecrets(suite.target);
      const { data, error } = await copyOut('copy-agent', sql);
      if (error) return; // refused: nothing was sent
      const text = data.toString('utf8');
      assert.ok(text.length > 0, 'COPY produced output');
      assertNoLeak(text.split('\n'), secrets, `${sql} (raw lines)`);
      assertNoLeak(decode(text), secrets, `${sql} (decoded)`);
    });
  }

  it('COPY customers TO STDOUT WITH (FORMAT binary): a valid stream with masked or null text fields', async () => {
    const secrets = await shopSecrets(suite.target);
    const { data, error } = await copyOut('copy-binary', 'COPY customers TO STDOUT WITH (FORMAT binary)');
    if (error) return;
    const raw = data.toString('latin1');
    assert.deepEqual(
      secrets.filter((v) => raw.includes(v)),
      [],
      'no clear value in the raw bytes',
    );
    const tuples = parseBinaryCopy(data, 8);
    assert.equal(tuples.length, 50);
    for (const t of tuples) {
      assert.equal(t[0]?.length, 4, 'id stays an int4');
      assert.equal(t[7]?.length, 8, 'created_at stays a timestamptz');
      const texts = t.slice(1, 7).map((f) => (f === null ? null : f.toString('utf8')));
      assertNoLeak(texts, secrets, 'binary tuple');
      // Masked text must still be valid UTF-8.
      for (const f of t.slice(1, 7))
        if (f) assert.equal(Buffer.from(f.toString('utf8'), 'utf8').equals(f), true, 'valid UTF-8');
    }
    assert.equal(tuples[0]?.[1]?.toString('utf8'), 'Ada Lovelace', 'unmasked columns keep their value');
  });

  it('psql: COPY … TO STDOUT with a delimiter inside the values', async () => {
    const secrets = await shopSecrets(suite.target);
    const token = await suite.gw.token('copy-psql', ['agents']);
    for (const [sql, delim] of [
      ["COPY customers (email) TO STDOUT WITH (DELIMITER '@')", '@'],
      ["COPY customers (ssn, phone) TO STDOUT WITH (DELIMITER '-')", '-'],
    ] as const) {
      const r = await runProgram('/usr/bin/psql', ['-X', '-A', '-t', '-d', conninfo(suite.gw), '-c', sql], {
        env: { PGPASSWORD: token },
      });
      assertNoLeak(decodeCopyText(r.stdout, delim), secrets, sql);
      assertNoLeak([...r.stdout.split('\n'), r.stderr], secrets, `${sql} (raw lines)`);
    }
  });
});
