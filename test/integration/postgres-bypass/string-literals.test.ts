// Finding 2: with standard_conforming_strings off the server reads 'a\' as an escaped quote, so
// `SELECT 'a\' , ' ; CREATE TABLE pwn(i int); --'` is three statements to the server and one
// harmless SELECT to a parser that assumes the default. Every way of turning the setting off
// (SET, SET LOCAL, set_config, UPDATE pg_settings, startup options + RESET, pipelining, REST,
// MCP) must end in a refusal, and the table must never be created.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { isWardenRefusal, summarize, WireClient, writeQueryBytes } from '../../helpers/wire-client.js';
import { mcpClient, text } from '../mcp/support.js';
import { conninfo, runProgram } from '../postgres/support.js';
import { tableExists } from './support.js';

type PgError = Error & { code?: string };
interface Outcome {
  errors: PgError[];
  scs?: string;
}

/** The statement that hides a CREATE TABLE in a string literal when scs is off. */
const attack = (table: string) => `SELECT 'a\\' , ' ; CREATE TABLE ${table}(i int); --'`;

describe('bypass: standard_conforming_strings off hides statements in string literals', () => {
  const suite = shopGatewaySuite();

  async function agent(sub: string): Promise<string> {
    return suite.gw.token(sub, ['agents']);
  }

  /**
   * Run `steps` on one node-postgres session; returns the errors (refusals) it met, and the
   * setting as the server has it at the end (so a gateway that pins it on also counts as closed).
   */
  async function nodePg(sub: string, steps: string[], clientOpts: pg.ClientConfig = {}): Promise<Outcome> {
    const c = new pg.Client({ connectionString: suite.gw.url(await agent(sub)), ...clientOpts });
    c.on('error', () => {});
    const errors: PgError[] = [];
    try {
      await c.connect();
    } catch (e) {
      return { errors: [e as PgError] };
    }
    try {
      for (const s of steps) {
        try {
          await c.query(s);
        } catch (e) {
          errors.push(e as PgError);
        }
      }
      const scs = await c.query('SHOW standard_conforming_strings').then(
        (r) => String(r.rows[0]?.standard_conforming_strings),
        () => undefined,
      );
      return { errors, ...(scs ? { scs } : {}) };
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** The table was not created, and Warden refused (or ended the session), or the server never read strings with scs off. */
  async function assertRefusedAndAbsent(table: string, out: Outcome, what: string): Promise<void> {
    const { errors, scs } = out;
    assert.equal(
      await tableExists(suite.target, table),
      false,
      `${what}: table ${table} was created through the gateway`,
    );
    const refused = errors.some(
      (e) => isWardenRefusal(e) || e.code === '28000' || e.code === '08P01' || /terminat|closed|ended/i.test(e.message),
    );
    assert.ok(
      refused || scs === 'on',
      `${what}: no refusal from Warden and the server has standard_conforming_strings=${scs} (errors: ${errors.map((e) => `${e.code} ${e.message}`).join('; ') || 'none'})`,
    );
  }

  /** psql met a Warden refusal (or the session ended), or the server still had the setting on at the end. */
  function assertPsql(r: { stdout: string; stderr: string }, what: string): void {
    const refused = /ERROR: {2}(blocked|approval required)|FATAL|terminat/.test(r.stderr);
    const pinned = r.stdout.trim().split('\n').at(-1) === 'on';
    assert.ok(refused || pinned, `${what}: psql said ${r.stdout} ${r.stderr}`);
  }

  it('control: straight to the server with the setting off, the literal hides a CREATE TABLE', async () => {
    const c = await WireClient.direct(suite.target);
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL standard_conforming_strings = off');
      const out = await c.query(attack('pwn_control'));
      await c.query('ROLLBACK');
      assert.deepEqual(out.tags, ['SELECT 1', 'CREATE TABLE']);
    } finally {
      c.destroy();
    }
  });

  it('psql: SET standard_conforming_strings = off, then the literal', async () => {
    const r = await runProgram(
      '/usr/bin/psql',
      [
        '-X',
        '-A',
        '-t',
        '-d',
        conninfo(suite.gw),
        '-c',
        'SET standard_conforming_strings = off',
        '-c',
        attack('pwn_psql'),
        '-c',
        'SHOW standard_conforming_strings',
      ],
      {
        env: { PGPASSWORD: await agent('scs-psql') },
      },
    );
    assert.equal(
      await tableExists(suite.target, 'pwn_psql'),
      false,
      `table created; psql said ${r.stdout} ${r.stderr}`,
    );
    assertPsql(r, 'pwn_psql');
  });

  it('psql: PGOPTIONS sets it off at startup', async () => {
    const r = await runProgram(
      '/usr/bin/psql',
      [
        '-X',
        '-A',
        '-t',
        '-d',
        conninfo(suite.gw),
        '-c',
        attack('pwn_pgoptions'),
        '-c',
        'SHOW standard_conforming_strings',
      ],
      {
        env: { PGPASSWORD: await agent('scs-pgoptions'), PGOPTIONS: '-c standard_conforming_strings=off' },
      },
    );
    assert.equal(
      await tableExists(suite.target, 'pwn_pgoptions'),
      false,
      `table created; psql said ${r.stdout} ${r.stderr}`,
    );
    assertPsql(r, 'pwn_pgoptions');
  });

  it('node-postgres: SET, then the literal', async () => {
    const errors = await nodePg('scs-pg', ['SET standard_conforming_strings = off', attack('pwn_pg')]);
    await assertRefusedAndAbsent('pwn_pg', errors, 'SET');
  });

  it('node-postgres: set_config(..., false), with a literal and with a computed name', async () => {
    const errors = await nodePg('scs-setconfig', [
      "SELECT set_config('standard_conforming_strings', 'off', false)",
      attack('pwn_setconfig'),
    ]);
    await assertRefusedAndAbsent('pwn_setconfig', errors, 'set_config');
    const computed = await nodePg('scs-setconfig2', [
      "SELECT set_config(n, 'off', false) FROM (VALUES ('standard_conforming' || '_strings')) v(n)",
      attack('pwn_setconfig2'),
    ]);
    await assertRefusedAndAbsent('pwn_setconfig2', computed, 'set_config with a computed name');
  });

  it('node-postgres: SET LOCAL inside a transaction', async () => {
    const errors = await nodePg('scs-local', [
      'BEGIN',
      'SET LOCAL standard_conforming_strings = off',
      attack('pwn_local'),
      'COMMIT',
    ]);
    await assertRefusedAndAbsent('pwn_local', errors, 'SET LOCAL');
  });

  it('node-postgres: UPDATE pg_settings', async () => {
    const errors = await nodePg('scs-pgsettings', [
      "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
      attack('pwn_pgsettings'),
    ]);
    await assertRefusedAndAbsent('pwn_pgsettings', errors, 'UPDATE pg_settings');
  });

  it('startup options off, then RESET (the session default is now off)', async () => {
    const opts = { options: '-c standard_conforming_strings=off' };
    const direct = await nodePg('scs-startup', [attack('pwn_startup')], opts);
    await assertRefusedAndAbsent('pwn_startup', direct, 'startup options');
    const reset = await nodePg(
      'scs-reset',
      ['SET standard_conforming_strings = on', 'RESET standard_conforming_strings', attack('pwn_reset')],
      opts,
    );
    await assertRefusedAndAbsent('pwn_reset', reset, 'startup options + RESET');
    const all = await nodePg('scs-reset-all', ['RESET ALL', attack('pwn_reset_all')], opts);
    await assertRefusedAndAbsent('pwn_reset_all', all, 'startup options + RESET ALL');
  });

  it('raw wire: the SET and the literal pipelined as two Query messages in one write', async () => {
    const c = await WireClient.gateway(suite.gw.pgPort, await agent('scs-pipelined'));
    try {
      c.send((w) => {
        writeQueryBytes(w, Buffer.from('SET standard_conforming_strings = off'));
        writeQueryBytes(w, Buffer.from(attack('pwn_pipelined')));
      });
      const msgs = await c.untilReady(2);
      const errs: PgError[] = summarize(msgs).errors.map((e) =>
        Object.assign(new Error(e.message ?? ''), { code: e.code }),
      );
      if (msgs.closed) errs.push(Object.assign(new Error('session closed'), { code: '08P01' }));
      const scs = msgs.closed ? undefined : (await c.query('SHOW standard_conforming_strings')).rows[0]?.[0];
      await assertRefusedAndAbsent('pwn_pipelined', { errors: errs, ...(scs ? { scs } : {}) }, 'pipelined');
    } finally {
      c.destroy();
    }
  });

  it('REST exec: both statements in one input', async () => {
    const token = await agent('scs-rest');
    const res = await fetch(`${suite.gw.apiUrl}/api/v1/exec`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        connection: 'shop',
        input: `SET standard_conforming_strings = off;\n${attack('pwn_rest')}`,
      }),
    });
    const body = (await res.json()) as { outcome?: string; message?: string };
    assert.equal(
      await tableExists(suite.target, 'pwn_rest'),
      false,
      `table created; REST said ${JSON.stringify(body)}`,
    );
    assert.ok(body.outcome === 'blocked' || body.outcome === 'review' || res.status >= 400, JSON.stringify(body));
  });

  it('MCP query tool: both statements in one call', async () => {
    const m = await mcpClient(suite.gw.apiUrl, await agent('scs-mcp'));
    try {
      const r = await m.call('query', {
        connection: 'shop',
        sql: `SET standard_conforming_strings = off;\n${attack('pwn_mcp')}`,
      });
      assert.equal(await tableExists(suite.target, 'pwn_mcp'), false, `table created; MCP said ${text(r)}`);
      assert.equal(r.isError, true, text(r));
    } finally {
      await m.close();
    }
  });
});
