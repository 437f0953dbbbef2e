// Every identity reaches the target as the same database role, so pg_stat_activity shows each
// one the others' live SQL, literals included. Under masking, its `query` column (a view column:
// PostgreSQL reports the view's OID and attnum, resolved to pg_catalog.pg_stat_activity.query) is
// redacted whole; the functions behind it, whose output has no source column, are refused; an
// unmasked DBA still sees other sessions' SQL. Real psql on both sides.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { psql, readRecordings } from '../postgres/support.js';

const SECRET = 'secret-literal-123';

describe('pg_stat_activity: other sessions’ SQL under masking', () => {
  // Its own cluster: reads the server's pg_stat_activity of database 'shop' by name.
  const suite = shopGatewaySuite({ ownCluster: true });

  /** Runs `fn` while a DBA session sits in `SELECT pg_sleep(…), '<SECRET>'`. */
  async function whileSecretRuns<T>(fn: () => Promise<T>): Promise<T> {
    const gw = suite.gw;
    const dba = await gw.token('dba-busy', ['dba']);
    const busy = psql(gw, dba, { command: `SELECT pg_sleep(4), '${SECRET}'` });
    try {
      // Until the statement is visible to an unmasked reader (so the masked reads below are meaningful).
      const watcher = await gw.token('dba-watch', ['dba']);
      for (let i = 0; ; i++) {
        const r = await psql(gw, watcher, {
          command: `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%' || 'secret-literal' || '%' AND pid <> pg_backend_pid()`,
        });
        if (r.stdout.trim() === '1') break;
        if (i > 50) throw new Error(`the DBA statement never showed up: ${r.stdout} ${r.stderr}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      return await fn();
    } finally {
      const done = await busy;
      assert.equal(done.code, 0, done.stderr);
      assert.ok(done.stdout.includes(SECRET), 'the DBA got its own result');
    }
  }

  it('a masked agent sees no other session’s literal; the DBA does', async () => {
    const gw = suite.gw;
    const agent = await gw.token('agent-snoop', ['agents']);
    const dba = await gw.token('dba-reader', ['dba']);
    const { masked, clear } = await whileSecretRuns(async () => {
      const masked = [];
      for (const command of [
        'SELECT query FROM pg_stat_activity',
        'SELECT * FROM pg_stat_activity',
        'SELECT a.query AS q, a.pid FROM pg_catalog.pg_stat_activity a',
        "SELECT pid, state, query FROM pg_stat_activity WHERE state = 'active' ORDER BY pid",
      ]) {
        const r = await psql(gw, agent, { command });
        assert.equal(r.code, 0, `${command}: ${r.stderr}`);
        masked.push({ command, out: r.stdout + r.stderr });
      }
      const clear = await psql(gw, dba, { command: 'SELECT query FROM pg_stat_activity' });
      return { masked, clear };
    });
    for (const { command, out } of masked) {
      assert.ok(!out.includes(SECRET), `${command} leaked:\n${out}`);
      assert.ok(!out.includes('pg_sleep'), `${command} shows other SQL:\n${out}`);
    }
    assert.match(masked[0]!.out, /\*\*\*/, 'the query column is redacted, not dropped');
    assert.equal(clear.code, 0, clear.stderr);
    assert.ok(clear.stdout.includes(SECRET), `the DBA sees it:\n${clear.stdout}`);
  });

  it('every form masking cannot follow is refused for masked identities (42501); the DBA may use them', async () => {
    const gw = suite.gw;
    const agent = await gw.token('agent-snoop', ['agents']);
    const dba = await gw.token('dba-reader', ['dba']);
    const refused = [
      'SELECT query FROM pg_stat_get_activity(NULL)',
      'SELECT pg_stat_get_backend_activity(s) FROM pg_stat_get_backend_idset() s',
      "SELECT x FROM query_to_xml('SELECT query FROM pg_stat_get_activity(NULL)', true, false, '') x",
      "SELECT x FROM query_to_xml('SELECT query FROM pg_stat_activity', true, false, '') x",
      'SELECT upper(query) FROM pg_stat_activity',
      "SELECT query || '' FROM pg_stat_activity",
      'SELECT query::varchar FROM pg_stat_activity',
      "SELECT row_to_json(a)->>'query' FROM pg_stat_activity a",
      'SELECT a::text FROM pg_stat_activity a',
      'SELECT a FROM pg_stat_activity a',
      "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%secret-literal%'",
      'SELECT pid FROM pg_stat_activity ORDER BY query',
      "SELECT query FROM pg_stat_activity UNION ALL SELECT 'x'",
      'SELECT (SELECT query FROM pg_stat_activity LIMIT 1)',
      'SELECT q FROM (SELECT query AS q FROM pg_stat_activity) s',
      'SELECT * FROM (SELECT * FROM pg_stat_activity) s',
      'WITH s AS (SELECT * FROM pg_stat_activity) SELECT s::text FROM s',
      'COPY (SELECT query FROM pg_stat_activity) TO STDOUT',
      'SELECT upper(query) FROM public.pg_stat_statements',
    ];
    for (const command of refused) {
      const r = await psql(gw, agent, { command });
      assert.match(r.stderr, /ERROR: {2}blocked: .*other sessions' SQL text/, `${command}: ${r.stdout} ${r.stderr}`);
    }
    // Plain monitoring keeps working for the agent.
    const ok = await psql(gw, agent, {
      command: "SELECT count(*) > 0, max(state) IS NOT NULL FROM pg_stat_activity WHERE datname = 'shop'",
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 't|t');
    // The DBA (unmasked) may read them every way.
    for (const command of [
      'SELECT count(*) > 0 FROM pg_stat_get_activity(NULL)',
      "SELECT bool_or(upper(query) LIKE 'SELECT%') FROM pg_stat_activity",
    ]) {
      const r = await psql(gw, dba, { command });
      assert.equal(r.code, 0, `${command}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), 't', command);
    }
  });

  it('the masked agent’s recording holds no other session’s literal', async () => {
    const recordings = await readRecordings(suite.gw);
    const agents = recordings.filter((r) => r.start.sub === 'agent-snoop');
    assert.ok(agents.length >= 4);
    for (const r of agents) assert.ok(!r.text.includes(SECRET), r.text);
  });
});
