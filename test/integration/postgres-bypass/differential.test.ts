// Finding 11 (differential): the gateway's reading of a text must match the server's. A seeded
// corpus of texts with tricky literals (quotes, backslashes, $$, E'' escapes, U&''), nested
// comments, quoted identifiers and several statements, as bytes that include multibyte
// sequences ending in 0x5c or 0x27, runs in every client encoding the server accepts for a UTF8
// database and with standard_conforming_strings / backslash_quote toggled (as far as the gateway
// lets a session toggle them). Each text runs straight on the server (as the owner, rolled back)
// and through the gateway under an allow-everything policy whose probe rules expose the
// gateway's analysis in the audit log (`kind-<k>` per statement kind, `n-<count>`, `multi`).
// Whenever the gateway let a text through, the statements the server executed (count and
// command tags) must be the ones the gateway analysed. Texts the gateway refused are fine.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { runSql } from '../../helpers/postgres.js';
import { type RawMessage, summarize, WireClient, writeQueryBytes } from '../../helpers/wire-client.js';

const KINDS = [
  'select insert update delete merge copy create alter drop truncate comment grant revoke set reset set_role show transaction explain',
  'prepare execute deallocate declare fetch close listen notify do call load vacuum analyze cluster reindex lock refresh alter_system',
  'security_label checkpoint other unparsed',
]
  .join(' ')
  .split(' ');
const MAX_COUNT = 8;

const PROBE_POLICY = `
access:
  - groups: [fuzz]
    connections: [shop]
rules:
  - name: block-unparsed-sql
    when: op.kind == 'sql' && !op.sql.parsed
    action: block
    message: the statement could not be parsed
${KINDS.map((k) => `  - name: kind-${k}\n    when: op.kind == 'sql' && '${k}' in op.sql.kinds\n    action: allow\n`).join('')}
${Array.from({ length: MAX_COUNT }, (_, i) => `  - name: n-${i + 1}\n    when: op.kind == 'sql' && op.sql.kinds.size() == ${i + 1}\n    action: allow\n`).join('')}
  - name: n-many
    when: op.kind == 'sql' && op.sql.kinds.size() > ${MAX_COUNT}
    action: allow
  - name: multi
    when: op.kind == 'sql' && op.sql.multiStatement
    action: allow
`;

/** mulberry32: a small seeded PRNG, so the corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ascii = (s: string) => Buffer.from(s, 'latin1');

/** Pieces of literal bodies: ASCII troublemakers and raw multibyte sequences. */
const BODY: Buffer[] = [
  ...[
    'a',
    'b',
    ' ',
    "'",
    "''",
    '\\',
    "\\'",
    '\\\\',
    '$$',
    '$',
    '--',
    '/*',
    '*/',
    ';',
    '"',
    '\n',
    '\\x27',
    '\\047',
    '\\u0027',
  ].map(ascii),
  Buffer.from([0x95, 0x5c]),
  Buffer.from([0xa4, 0x5c]),
  Buffer.from([0x81, 0x27]),
  Buffer.from([0x95, 0x5c, 0x27]),
  Buffer.from([0xe9]),
  Buffer.from([0xc3, 0xa9]),
];

function generator(seed: number) {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const body = (): Buffer => Buffer.concat(Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(BODY)));
  const lit = (): Buffer => {
    const b = body();
    switch (Math.floor(rnd() * 7)) {
      case 0:
        return Buffer.concat([ascii("E'"), b, ascii("'")]);
      case 1:
        return Buffer.concat([ascii('$$'), b, ascii('$$')]);
      case 2:
        return Buffer.concat([ascii('$q$'), b, ascii('$q$')]);
      case 3:
        return Buffer.concat([ascii("U&'"), b, ascii("'")]);
      case 4:
        return Buffer.concat([ascii("'"), b, ascii("'\n'"), body(), ascii("'")]);
      case 5:
        return ascii(pick(['1', '2.5', "B'01'", "X'ff'", 'NULL']));
      default:
        return Buffer.concat([ascii("'"), b, ascii("'")]);
    }
  };
  const ident = () => ascii(pick(['v', '"v"', '"we""ird"', '"a;b"', '"--x"', '"/*"', '"$$"']));
  const comment = (): Buffer => {
    switch (Math.floor(rnd() * 3)) {
      case 0:
        return Buffer.concat([ascii('-- '), body(), ascii('\n')]);
      case 1:
        return Buffer.concat([ascii('/* '), body(), ascii(' */')]);
      default:
        return Buffer.concat([ascii('/* a /* '), body(), ascii(' */ c */')]);
    }
  };
  const statement = (): Buffer => {
    switch (Math.floor(rnd() * 10)) {
      case 0:
        return Buffer.concat([ascii('SELECT '), lit(), ascii(' AS '), ident()]);
      case 1:
        return Buffer.concat([ascii('SELECT '), lit(), ascii(', '), lit()]);
      case 2:
        return Buffer.concat([ascii('INSERT INTO fuzz_t (v) VALUES ('), lit(), ascii(')')]);
      case 3:
        return Buffer.concat([ascii('UPDATE fuzz_t SET v = '), lit(), ascii(' WHERE v = '), lit()]);
      case 4:
        return Buffer.concat([ascii('DELETE FROM fuzz_t WHERE v = '), lit()]);
      case 5:
        return ascii(`CREATE TABLE fuzz_${Math.floor(rnd() * 5)} (i int)`);
      case 6:
        return ascii(`DROP TABLE IF EXISTS fuzz_${Math.floor(rnd() * 5)}`);
      case 7:
        return ascii(
          pick(['SHOW search_path', 'SET LOCAL search_path = public', 'SET LOCAL application_name = $$x$$']),
        );
      default:
        return Buffer.concat([ascii('SELECT '), lit()]);
    }
  };
  return (): Buffer => {
    const parts: Buffer[] = [];
    if (rnd() < 0.3) parts.push(comment());
    const n = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < n; i++) {
      if (i > 0) parts.push(ascii(pick([';', ' ; ', ';\n'])), rnd() < 0.3 ? comment() : ascii(''));
      parts.push(statement());
      if (rnd() < 0.2) parts.push(ascii(' '), comment());
    }
    if (rnd() < 0.5) parts.push(ascii(';'));
    return Buffer.concat(parts);
  };
}

/** The known attacks, always part of the corpus. */
const CRAFTED: Buffer[] = [
  ascii("SELECT 'a\\' , ' ; CREATE TABLE fuzz_pwn(i int); --'"),
  Buffer.concat([
    ascii("SELECT E'"),
    Buffer.from([0x95, 0x5c]),
    ascii("' , 1 ; CREATE TABLE fuzz_pwn(i int); SELECT '--'"),
  ]),
  Buffer.concat([
    ascii("SELECT E'"),
    Buffer.from([0xa4, 0x5c]),
    ascii("' , 1 ; CREATE TABLE fuzz_pwn(i int); SELECT '--'"),
  ]),
  Buffer.concat([ascii("SELECT '"), Buffer.from([0x95, 0x5c]), ascii("'' ; CREATE TABLE fuzz_pwn(i int); --'")]),
];

/** Command tag → statement kind (as the gateway names kinds). */
function kindOfTag(tag: string): string {
  const t = tag.toUpperCase();
  if (t.startsWith('SELECT')) return 'select';
  if (t.startsWith('INSERT')) return 'insert';
  if (t.startsWith('UPDATE')) return 'update';
  if (t.startsWith('DELETE')) return 'delete';
  if (t.startsWith('CREATE')) return 'create';
  if (t.startsWith('DROP')) return 'drop';
  return (t.split(' ')[0] ?? '').toLowerCase();
}

/** Split a pipelined answer into one message list per query (each ends with ReadyForQuery). */
function perQuery(msgs: readonly RawMessage[]): RawMessage[][] {
  const out: RawMessage[][] = [[]];
  for (const m of msgs) {
    (out[out.length - 1] as RawMessage[]).push(m);
    if (m.code === 0x5a) out.push([]);
  }
  return out.slice(0, -1);
}

const printable = (b: Buffer) => JSON.stringify(b.toString('latin1'));

interface Settings {
  encoding: string;
  scs: string;
  bq: string;
}

describe('differential: what the gateway analysed = what the server executed', () => {
  const suite = shopGatewaySuite({ policy: PROBE_POLICY });
  let encodings: string[] = [];
  before(async () => {
    await runSql(suite.target.url, 'CREATE TABLE fuzz_t (v text)');
    const names = (
      await runSql(suite.target.url, 'SELECT pg_encoding_to_char(i) AS e FROM generate_series(0, 42) i')
    ).map((r) => String(r.e));
    const c = await WireClient.direct(suite.target);
    try {
      for (const e of names.filter((n) => n !== '')) {
        const r = await c.query(`SET client_encoding = '${e}'`);
        if (r.errors.length === 0) encodings.push(e);
      }
    } finally {
      c.destroy();
    }
    encodings = [...new Set(encodings)];
  });

  it('corpus over every client encoding and string setting', { timeout: 120_000 }, async () => {
    assert.ok(encodings.length >= 30, `client encodings: ${encodings.join(' ')}`);
    const next = generator(20240611);
    const combos: { scs: string; bq: string }[] = [
      { scs: 'on', bq: 'safe_encoding' },
      { scs: 'off', bq: 'on' },
      { scs: 'off', bq: 'safe_encoding' },
      { scs: 'off', bq: 'off' },
    ];
    const perCombo = 8;
    const stats = { texts: 0, allowed: 0, refused: 0, serverErrors: 0, combos: 0, settingsRefused: 0, auditGaps: 0 };
    const mismatches: string[] = [];
    const reached = new Set<string>();
    let lastSeq = (await suite.gw.running.gateway.audit.list({ limit: 1_000_000 })).at(-1)?.seq ?? 0;
    const store = suite.gw.running.gateway.audit;
    let comboNo = 0;

    for (const encoding of encodings) {
      for (const want of combos) {
        comboNo++;
        const sub = `fuzz-${comboNo}`;
        const token = await suite.gw.token(sub, ['fuzz']);
        // Through the gateway: ask for the encoding at startup, then the settings, as an attacker would.
        const options = `-c standard_conforming_strings=${want.scs} -c backslash_quote=${want.bq}`;
        let gw: WireClient | undefined;
        const attempts: Record<string, string>[] = [
          { client_encoding: encoding, options },
          { client_encoding: encoding },
          {},
        ];
        for (const params of attempts) {
          try {
            gw = await WireClient.gateway(suite.gw.pgPort, token, { params });
            break;
          } catch {
            stats.settingsRefused++;
          }
        }
        assert.ok(gw, 'a plain login works');
        for (const set of [`SET standard_conforming_strings = ${want.scs}`, `SET backslash_quote = ${want.bq}`]) {
          const r = await gw.query(set);
          if (r.errors.length > 0 || r.closed) stats.settingsRefused++;
          if (r.closed)
            gw = await WireClient.gateway(suite.gw.pgPort, token, { params: { client_encoding: encoding } }).catch(() =>
              WireClient.gateway(suite.gw.pgPort, token),
            );
          // (a SET that ends the session leaves a fresh one with the defaults)
        }
        const shown = await gw.query(
          "SELECT current_setting('client_encoding'), current_setting('standard_conforming_strings'), current_setting('backslash_quote')",
        );
        const row = shown.rows[0] ?? [];
        const actual: Settings = { encoding: String(row[0]), scs: String(row[1]), bq: String(row[2]) };
        reached.add(`${actual.encoding}/${actual.scs}/${actual.bq}`);
        stats.combos++;
        // Straight to the server with the settings the gateway session really has.
        const direct = await WireClient.direct(suite.target, { client_encoding: actual.encoding });
        await direct.query(`SET standard_conforming_strings = ${actual.scs}`);
        await direct.query(`SET backslash_quote = ${actual.bq}`);
        const texts = [...CRAFTED, ...Array.from({ length: perCombo }, next)];
        lastSeq = Math.max(lastSeq, ...(await store.list({ afterSeq: lastSeq, limit: 1000 })).map((e) => e.seq));
        try {
          for (const text of texts) {
            stats.texts++;
            direct.send((w) => {
              writeQueryBytes(w, ascii('BEGIN'));
              writeQueryBytes(w, text);
              writeQueryBytes(w, ascii('ROLLBACK'));
            });
            const directRun = summarize(perQuery(await direct.untilReady(3))[1] ?? []);

            await gw.query('BEGIN');
            const viaGw = await gw.query(text);
            await gw.query('ROLLBACK');
            const entries = (await store.list({ afterSeq: lastSeq, limit: 1000 })).filter(
              (e) => e.type === 'operation',
            );
            lastSeq = Math.max(lastSeq, ...entries.map((e) => e.seq));
            const mine = entries.filter((e) => e.actor === sub);
            if (mine.length !== 3) {
              stats.auditGaps++;
              mismatches.push(
                `${actual.encoding}/${actual.scs}/${actual.bq} ${printable(text)}: ${mine.length} audit entries for BEGIN/text/ROLLBACK`,
              );
              continue;
            }
            const decided = mine[1]?.data as { effect: string; rules: string[] };
            if (decided.effect !== 'allow') {
              stats.refused++;
              continue;
            }
            stats.allowed++;
            const kinds = new Set(decided.rules.filter((r) => r.startsWith('kind-')).map((r) => r.slice(5)));
            const countRule = decided.rules.find((r) => /^n-(\d+|many)$/.test(r));
            const count = countRule === 'n-many' ? Number.POSITIVE_INFINITY : Number(countRule?.slice(2));
            const ran = viaGw.tags.map(kindOfTag);
            const failed = viaGw.errors.length > 0;
            if (failed) stats.serverErrors++;
            const where = `${actual.encoding}/scs=${actual.scs}/bq=${actual.bq} ${printable(text)}`;
            const analysis = `gateway: kinds [${[...kinds].join(',')}] count ${count} multi ${decided.rules.includes('multi')}`;
            const server = `server: [${viaGw.tags.join(', ')}]${failed ? ` then ${viaGw.errors[0]?.code}` : ''}`;
            const unknown = ran.filter((k) => !kinds.has(k));
            if (unknown.length > 0)
              mismatches.push(
                `${where}: server ran ${unknown.join(',')} the gateway did not see; ${analysis}; ${server}`,
              );
            else if (failed ? ran.length > count : ran.length !== count)
              mismatches.push(`${where}: server ran ${ran.length} statements; ${analysis}; ${server}`);
            else if (!failed && ran.length > 1 !== decided.rules.includes('multi'))
              mismatches.push(`${where}: multiStatement disagrees; ${analysis}; ${server}`);
            if (viaGw.tags.join('|') !== directRun.tags.join('|'))
              mismatches.push(
                `${where}: through the gateway the server ran [${viaGw.tags.join(', ')}], directly [${directRun.tags.join(', ')}]`,
              );
          }
        } finally {
          gw.destroy();
          direct.destroy();
        }
      }
    }
    console.log(
      `differential: ${encodings.length} client encodings, ${stats.combos} sessions, corpus ${stats.texts} texts: ${stats.allowed} allowed, ${stats.refused} refused, ${stats.serverErrors} server errors among allowed, ${stats.settingsRefused} setting changes refused; ${mismatches.length} mismatches; settings reached: ${[...reached].length}`,
    );
    for (const m of mismatches.slice(0, 15)) console.log(`  mismatch: ${m}`);
    assert.equal(
      await runSql(suite.target.url, "SELECT to_regclass('fuzz_pwn') IS NULL AS ok").then((r) => r[0]?.ok),
      true,
      'fuzz_pwn must not exist',
    );
    assert.deepEqual(
      mismatches.slice(0, 15),
      [],
      `${mismatches.length} texts where the gateway and the server disagree`,
    );
  });
});
