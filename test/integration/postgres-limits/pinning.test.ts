// Startup-parameter pinning: the gateway reads SQL as UTF-8 with standard_conforming_strings=on,
// so every session through it runs that way at the target, whatever the client asks for and
// whatever ALTER ROLE / ALTER DATABASE defaults say. Plus `roles`: the database role per group.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  BackendCode,
  parseParameterStatus,
  writePasswordMessage,
  writeStartupMessage,
} from '../../../src/protocols/postgres/wire/index.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { runSql, type TestPostgres } from '../../helpers/postgres.js';
import { conninfo, errorFields, ms, psql, RawClient, type RawMessage, runProgram } from '../postgres/support.js';

/** Log in over a raw socket with these startup parameters; the ParameterStatus values, or the FATAL. */
async function rawLogin(
  gw: TestGateway,
  token: string,
  params: Record<string, string>,
): Promise<Map<string, string> | { fatal: ReturnType<typeof errorFields> }> {
  const c = await RawClient.connect(gw.pgPort);
  try {
    c.write(writeStartupMessage(c.w, { user: 'agent', database: 'shop', ...params }).flush());
    const first = await c.waitFor((m) => m.code === BackendCode.Authentication || m.code === BackendCode.ErrorResponse);
    if (first.code === BackendCode.ErrorResponse) return { fatal: errorFields(first) };
    c.write(writePasswordMessage(c.w, token).flush());
    const end = await c.waitFor((m) => m.code === BackendCode.ReadyForQuery || m.code === BackendCode.ErrorResponse);
    if (end.code === BackendCode.ErrorResponse) return { fatal: errorFields(end) };
    return statusOf(c.messages);
  } finally {
    c.destroy();
  }
}

function statusOf(messages: RawMessage[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of messages) {
    if (m.code !== BackendCode.ParameterStatus) continue;
    const p = parseParameterStatus(m.payload, 0, m.payload.length);
    out.set(p.name, p.value);
  }
  return out;
}

describe('postgres front door: pinned startup parameters', () => {
  let target: TestPostgres;
  let gw: TestGateway;
  let agent: string;
  let dba: string;

  before(async () => {
    // Its own cluster: ALTER ROLE app / ALTER DATABASE shop by name, and cluster-wide roles.
    target = await startShopPostgres({ ownCluster: true });
    // A hostile (or careless) target configuration: the app role's defaults would change how
    // the server lexes SQL. The gateway's startup settings must win over them.
    await runSql(
      target.superuserUrl,
      `ALTER ROLE app SET standard_conforming_strings = off;
       ALTER ROLE app SET client_encoding = 'SJIS';
       ALTER DATABASE shop SET backslash_quote = on;
       CREATE ROLE "report reader" NOLOGIN;
       GRANT "report reader" TO app;
       GRANT SELECT ON customers TO "report reader";
       CREATE ROLE outsider NOLOGIN;`,
    );
    gw = await startTestGateway(target, {
      extraYaml: `    roles:
      agents: report reader
      dba: outsider
`,
    });
    agent = await gw.token('agent-pin', ['agents']);
    dba = await gw.token('dba-pin', ['dba']);
  });
  after(async () => {
    await gw?.stop();
    await target?.stop();
  });

  it('psql with PGCLIENTENCODING=SJIS is refused with a clear error', async () => {
    const r = await psql(gw, agent, { command: 'SELECT 1' });
    assert.equal(r.code, 0, r.stderr);
    const sjis = await psqlWithEncoding(gw, agent, 'SJIS');
    assert.notEqual(sjis.code, 0);
    assert.match(sjis.stderr, /client_encoding "SJIS" is not supported through Warden; use UTF8/);
  });

  it('a raw startup packet asking for another encoding is refused with 22023, in any spelling of the name', async () => {
    for (const params of <Record<string, string>[]>[
      { client_encoding: 'SJIS' },
      { CLIENT_ENCODING: 'big5' },
      { Client_Encoding: 'LATIN1' },
      { client_encoding: 'auto' },
    ]) {
      const r = await rawLogin(gw, agent, params);
      assert.ok(!(r instanceof Map), `accepted ${JSON.stringify(params)}`);
      assert.equal(r.fatal.code, '22023');
      assert.match(r.fatal.message ?? '', /^client_encoding ".+" is not supported through Warden; use UTF8$/);
    }
  });

  it('UTF8 in any spelling PostgreSQL accepts, and SQL_ASCII, run as UTF8', async () => {
    for (const enc of ['UTF8', 'utf-8', 'Unicode', 'utf_8', 'SQL_ASCII', 'sql-ascii']) {
      const r = await rawLogin(gw, agent, { client_encoding: enc });
      assert.ok(r instanceof Map, `refused ${enc}: ${r instanceof Map ? '' : r.fatal.message}`);
      assert.equal(r.get('client_encoding'), 'UTF8', enc);
      assert.equal(r.get('standard_conforming_strings'), 'on', enc);
    }
    const viaPsql = await psqlWithEncoding(gw, agent, 'SQL_ASCII', 'SHOW client_encoding');
    assert.equal(viaPsql.code, 0, viaPsql.stderr);
    assert.equal(viaPsql.stdout.trim(), 'UTF8');
  });

  it('ALTER ROLE/DATABASE defaults do not reach sessions through the gateway (they do reach direct ones)', async () => {
    const direct = await runSql(
      target.url,
      "SELECT current_setting('standard_conforming_strings') AS scs, current_setting('backslash_quote') AS bq",
    );
    assert.deepEqual(direct[0], { scs: 'off', bq: 'on' });

    const client = new pg.Client({ connectionString: gw.url(agent) });
    await client.connect();
    try {
      const r = await client.query(
        "SELECT current_setting('standard_conforming_strings') AS scs, current_setting('client_encoding') AS enc, current_setting('backslash_quote') AS bq",
      );
      assert.deepEqual(r.rows[0], { scs: 'on', enc: 'UTF8', bq: 'safe_encoding' });
      // A RESET goes back to the session's startup value, which is the pinned one.
      await client.query('RESET ALL').catch(() => {});
      const after = await client.query("SELECT current_setting('standard_conforming_strings') AS scs");
      assert.equal(after.rows[0].scs, 'on');
    } finally {
      await client.end();
    }
    const raw = await rawLogin(gw, agent, {});
    assert.ok(raw instanceof Map);
    assert.equal(raw.get('standard_conforming_strings'), 'on');
    assert.equal(raw.get('client_encoding'), 'UTF8');
  });

  it('roles: the session runs as the role mapped to the first matching group; an impossible role refuses the session', async () => {
    const client = new pg.Client({ connectionString: gw.url(agent) });
    await client.connect();
    try {
      assert.equal((await client.query('SELECT current_user AS u')).rows[0].u, 'report reader');
      // The role is locked: every way to change it is refused by Warden, not by the database.
      for (const sql of [
        'RESET ROLE',
        'SET ROLE NONE',
        'SET ROLE app',
        'SET SESSION AUTHORIZATION DEFAULT',
        "SELECT set_config('role', 'app', false)",
      ]) {
        await assert.rejects(
          client.query(sql),
          (e: Error & { code?: string }) => e.code === '42501' && /role is set by Warden/.test(e.message),
          sql,
        );
      }
      assert.equal((await client.query('SELECT current_user AS u')).rows[0].u, 'report reader');
    } finally {
      await client.end();
    }

    // dba maps to a role the gateway's login is not a member of: refused, fail closed.
    const r = await rawLogin(gw, dba, {});
    assert.ok(!(r instanceof Map));
    assert.equal(r.fatal.code, '42501');
    assert.match(r.fatal.message ?? '', /cannot run as database role 'outsider' on target 'shop'/);

    // Group order decides: [agents, dba] → report reader; [dba, agents] → outsider (refused).
    const both = await rawLogin(gw, await gw.token('both-1', ['agents', 'dba']), {});
    assert.ok(both instanceof Map);
    const other = await rawLogin(gw, await gw.token('both-2', ['dba', 'agents']), {});
    assert.ok(!(other instanceof Map));
    const deadline = Date.now() + 5000;
    while (gw.running.gateway.sessions.size > 0 && Date.now() < deadline) await ms(20);
    assert.equal(gw.running.gateway.sessions.size, 0);
  });
});

function psqlWithEncoding(gw: TestGateway, token: string, encoding: string, command = 'SELECT 1') {
  return runProgram('/usr/bin/psql', ['-X', '-A', '-t', '-d', conninfo(gw), '-c', command], {
    env: { PGPASSWORD: token, PGCLIENTENCODING: encoding },
  });
}
