// Finding 3: in client encodings whose multibyte characters can end in 0x5c (SJIS, BIG5, GBK, …)
// the bytes 0x95 0x5c are one character to the server but "?\" to a UTF-8 reader, so
// `SELECT E'\x95\x5c' , 1 ; CREATE TABLE t(i int); SELECT '--'` is three statements to the
// server and one SELECT to a parser that assumes UTF-8. However the encoding is chosen (startup
// parameter, options, psql's PGCLIENTENCODING, SET, SET NAMES, set_config, pipelined), the
// table must never be created.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { type Summary, summarize, WireClient, writeQueryBytes } from '../../helpers/wire-client.js';
import { conninfo, runProgram } from '../postgres/support.js';
import { tableExists } from './support.js';

/** A lead byte that, followed by 0x5c, is one valid character in the encoding. */
const LEAD: Record<string, number> = { SJIS: 0x95, SHIFT_JIS_2004: 0x95, BIG5: 0xa4, GBK: 0x95, GB18030: 0x95 };

function attackBytes(encoding: string, table: string): Buffer {
  const lead = LEAD[encoding] as number;
  return Buffer.concat([
    Buffer.from("SELECT E'", 'latin1'),
    Buffer.from([lead, 0x5c]),
    Buffer.from(`' , 1 ; CREATE TABLE ${table}(i int); SELECT '--'`, 'latin1'),
  ]);
}

describe('bypass: multibyte client encodings hide statements behind a 0x5c trail byte', () => {
  const suite = shopGatewaySuite();

  function describeOutcome(s: Summary & { closed?: boolean }): string {
    return `${s.tags.join(',')} ${s.errors.map((e) => `${e.code} ${e.message}`).join('; ')}${s.closed ? ' (closed)' : ''}`;
  }

  async function viaSession(
    sub: string,
    params: Record<string, string>,
    setup: string[],
    encoding: string,
    table: string,
  ): Promise<string> {
    let c: WireClient;
    try {
      c = await WireClient.gateway(suite.gw.pgPort, await suite.gw.token(sub, ['agents']), { params });
    } catch (e) {
      return `login refused: ${(e as Error).message}`;
    }
    try {
      const steps: string[] = [];
      for (const s of setup) steps.push(describeOutcome(await c.query(s)));
      if (c.closed) return `closed during setup: ${steps.join(' | ')}`;
      steps.push(describeOutcome(await c.query(attackBytes(encoding, table))));
      return steps.join(' | ');
    } finally {
      c.destroy();
    }
  }

  it('control: straight to the server, each payload is three statements (one CREATE TABLE)', async () => {
    for (const encoding of Object.keys(LEAD)) {
      const c = await WireClient.direct(suite.target, { client_encoding: encoding });
      try {
        await c.query('BEGIN');
        const out = await c.query(attackBytes(encoding, 'pwn2_control'));
        await c.query('ROLLBACK');
        assert.deepEqual(out.tags, ['SELECT 1', 'CREATE TABLE', 'SELECT 1'], `${encoding}: ${describeOutcome(out)}`);
      } finally {
        c.destroy();
      }
    }
  });

  for (const encoding of Object.keys(LEAD)) {
    it(`startup parameter client_encoding=${encoding}`, async () => {
      const table = `pwn2_${encoding.toLowerCase()}_startup`;
      const what = await viaSession(`enc-${encoding}`, { client_encoding: encoding }, [], encoding, table);
      assert.equal(await tableExists(suite.target, table), false, `${table} created: ${what}`);
    });
  }

  it('startup options -c client_encoding=SJIS', async () => {
    const what = await viaSession('enc-options', { options: '-c client_encoding=SJIS' }, [], 'SJIS', 'pwn2_options');
    assert.equal(await tableExists(suite.target, 'pwn2_options'), false, what);
  });

  it("SET client_encoding = 'SJIS', SET NAMES 'SJIS', set_config('client_encoding', ...)", async () => {
    const cases: [string, string][] = [
      ["SET client_encoding = 'SJIS'", 'pwn2_set'],
      ["SET NAMES 'SJIS'", 'pwn2_names'],
      ["SELECT set_config('client_encoding', 'SJIS', false)", 'pwn2_setconfig'],
    ];
    for (const [set, table] of cases) {
      const what = await viaSession(`enc-${table}`, {}, [set], 'SJIS', table);
      assert.equal(await tableExists(suite.target, table), false, `${set}: ${table} created: ${what}`);
    }
    const what = await viaSession(
      'enc-local',
      {},
      ['BEGIN', "SET LOCAL client_encoding = 'SJIS'"],
      'SJIS',
      'pwn2_local',
    );
    assert.equal(await tableExists(suite.target, 'pwn2_local'), false, `SET LOCAL: ${what}`);
  });

  it('SET NAMES and the statement pipelined in one write', async () => {
    const c = await WireClient.gateway(suite.gw.pgPort, await suite.gw.token('enc-pipelined', ['agents']));
    try {
      c.send((w) => {
        writeQueryBytes(w, Buffer.from("SET NAMES 'SJIS'"));
        writeQueryBytes(w, attackBytes('SJIS', 'pwn2_pipelined'));
      });
      const out = summarize(await c.untilReady(2));
      assert.equal(await tableExists(suite.target, 'pwn2_pipelined'), false, describeOutcome(out));
    } finally {
      c.destroy();
    }
  });

  it('psql with PGCLIENTENCODING=SJIS sends the bytes as one -c command', async () => {
    // The bytes go in through a file and the shell, so they reach psql's argv unchanged.
    const file = join(suite.gw.dir, 'sjis-attack.sql');
    await writeFile(file, attackBytes('SJIS', 'pwn2_psql'));
    const r = await runProgram(
      '/bin/bash',
      ['-c', `exec /usr/bin/psql -X -A -t -d "$CONNINFO" -c "$(cat '${file}')"`],
      {
        env: {
          CONNINFO: conninfo(suite.gw),
          PGPASSWORD: await suite.gw.token('enc-psql', ['agents']),
          PGCLIENTENCODING: 'SJIS',
        },
      },
    );
    assert.equal(await tableExists(suite.target, 'pwn2_psql'), false, `psql said ${r.stdout} ${r.stderr}`);
  });
});
