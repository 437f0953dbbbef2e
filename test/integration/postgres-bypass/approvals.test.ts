// Finding 5: an approval must cover exactly the approved operation once, and "filtered" must
// mean filtered. PREPARE/EXECUTE, a named protocol statement re-bound after a failed re-Parse,
// INSERT … SELECT … ON CONFLICT DO UPDATE with a huge LIMIT, and WHERE clauses that filter
// nothing all need their own review; benign filtered deletes stay allowed.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import pg from 'pg';
import {
  writeBind,
  writeClose,
  writeExecute,
  writeParse,
  writeSync,
} from '../../../src/protocols/postgres/wire/index.js';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { runSql } from '../../helpers/postgres.js';
import { summarize, WireClient } from '../../helpers/wire-client.js';
import { api } from '../postgres-approvals/helpers.js';

type PgError = Error & { code?: string };

describe('bypass: approvals and the write filter', () => {
  const suite = shopGatewaySuite();
  before(async () => {
    await runSql(suite.target.url, 'CREATE TABLE audit_notes (id serial PRIMARY KEY, note text NOT NULL)');
  });

  const notes = async () =>
    Number((await runSql(suite.target.url, 'SELECT count(*)::int AS n FROM audit_notes'))[0]?.n);
  const addNotes = async (n: number) => {
    await runSql(
      suite.target.url,
      `INSERT INTO audit_notes (note) SELECT 'note ' || g FROM generate_series(1, ${n}) g`,
    );
  };

  async function approve(reviewId: string): Promise<void> {
    const dba = await suite.gw.token('dba-approver', ['dba']);
    const r = await api<{ review: { state: string } }>(suite.gw, dba, 'POST', `/api/v1/reviews/${reviewId}/approve`, {
      reason: 'test',
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.review.state, 'approved');
  }

  function reviewIdOf(message: string | undefined): string {
    const m = /^approval required: review (\S+?)[\s;(]/.exec(message ?? '');
    assert.ok(m, `expected an approval-required refusal, got: ${message}`);
    return m[1] as string;
  }

  async function agent(sub: string): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token(sub, ['agents'])) });
    c.on('error', () => {});
    await c.connect();
    return c;
  }

  async function expectReview(c: pg.Client, sql: string): Promise<string> {
    let id = '';
    await assert.rejects(c.query(sql), (err: PgError) => {
      assert.equal(err.code, '42501', err.message);
      id = reviewIdOf(err.message);
      return true;
    });
    return id;
  }

  // First: the attacks below may wipe orders while the holes are open.
  it('benign filtered deletes stay allowed', async () => {
    const c = await agent('benign-agent');
    try {
      const one = await c.query('DELETE FROM orders WHERE id = 3');
      assert.equal(one.rowCount, 1);
      const old = await c.query("DELETE FROM orders WHERE created_at < now() - interval '7 days'");
      assert.equal(old.rowCount, 0);
      const param = await c.query('DELETE FROM orders WHERE id = $1', [4]);
      assert.equal(param.rowCount, 1);
    } finally {
      await c.end();
    }
  });
  it('PREPARE p AS DELETE approved once: each EXECUTE p needs its own review; rows survive', async () => {
    await addNotes(5);
    const before = await notes();
    const c = await agent('prep-agent');
    try {
      const id = await expectReview(c, 'PREPARE p AS DELETE FROM audit_notes');
      await approve(id);
      await c.query('PREPARE p AS DELETE FROM audit_notes');
      for (let i = 0; i < 2; i++) {
        await assert.rejects(c.query('EXECUTE p'), (err: PgError) => {
          assert.equal(err.code, '42501', err.message);
          return true;
        });
      }
      assert.equal(await notes(), before, 'EXECUTE p deleted rows under the approval of the PREPARE');
    } finally {
      await c.end();
    }
  });

  it('raw wire: an approved named DELETE runs once; re-Bind and a failed re-Parse do not reuse it', async () => {
    await addNotes(5);
    const sub = 'wire-agent';
    const c = await WireClient.gateway(suite.gw.pgPort, await suite.gw.token(sub, ['agents']));
    const del = 'DELETE FROM audit_notes';
    const runNamed = async () => {
      c.send((w) => {
        writeClose(w, 'S', 'd');
        writeParse(w, 'd', del);
        writeBind(w, { portal: '', statement: 'd' });
        writeExecute(w);
        writeSync(w);
      });
      return summarize(await c.untilReady());
    };
    try {
      const first = await runNamed();
      assert.equal(first.errors[0]?.code, '42501', first.codes);
      await approve(reviewIdOf(first.errors[0]?.message));
      const present = await notes();
      const ran = await runNamed();
      assert.deepEqual(ran.tags, [`DELETE ${present}`], JSON.stringify(ran.errors));

      // Fresh rows; the statement 'd' still exists on the server.
      await addNotes(3);
      c.send((w) => {
        writeBind(w, { portal: '', statement: 'd' });
        writeExecute(w);
        writeSync(w);
      });
      const rebound = summarize(await c.untilReady());
      assert.equal(
        rebound.errors[0]?.code,
        '42501',
        `re-Bind of the approved statement: ${rebound.codes} ${rebound.tags}`,
      );
      assert.equal(await notes(), 3, 're-Bind deleted rows again');

      // A re-Parse of the name that the server rejects (the name exists) must not change what
      // the gateway thinks 'd' is.
      c.send((w) => {
        writeParse(w, 'd', 'SELECT 1');
        writeSync(w);
      });
      const reparse = summarize(await c.untilReady());
      assert.ok(reparse.errors.length > 0, 'the server (or Warden) rejects the duplicate name');
      c.send((w) => {
        writeBind(w, { portal: '', statement: 'd' });
        writeExecute(w);
        writeSync(w);
      });
      const after = summarize(await c.untilReady());
      assert.equal(after.errors[0]?.code, '42501', `Bind after the failed re-Parse: ${after.codes} ${after.tags}`);
      assert.equal(await notes(), 3, 'the failed re-Parse let the approved DELETE run again');
      // The audit names the statement that would really run.
      const entries = (await suite.gw.running.gateway.audit.list({ type: 'operation', limit: 10_000 })).filter(
        (e) => e.actor === sub,
      );
      const last = entries.at(-1);
      assert.match(
        String(last?.data.text),
        /delete\s+from\s+audit_notes/i,
        `last audit entry: ${JSON.stringify(last?.data)}`,
      );
    } finally {
      c.destroy();
    }
  });

  it('INSERT … SELECT … LIMIT 1000000 ON CONFLICT DO UPDATE needs review; nothing is hijacked', async () => {
    const c = await agent('upsert-agent');
    try {
      await expectReview(
        c,
        "INSERT INTO orders SELECT * FROM orders LIMIT 1000000 ON CONFLICT (id) DO UPDATE SET status = 'hijacked'",
      );
      const n = await runSql(suite.target.url, "SELECT count(*)::int AS n FROM orders WHERE status = 'hijacked'");
      assert.equal(n[0]?.n, 0);
    } finally {
      await c.end();
    }
  });

  it('WHERE clauses that filter nothing need review; orders are untouched', async () => {
    const c = await agent('where-agent');
    const count = async () => Number((await runSql(suite.target.url, 'SELECT count(*)::int AS n FROM orders'))[0]?.n);
    const before = await count();
    const notReviewed: string[] = [];
    try {
      for (const sql of [
        'DELETE FROM orders WHERE id = id',
        'DELETE FROM orders WHERE id IS NOT NULL',
        'DELETE FROM orders WHERE EXISTS (select 1)',
        'DELETE FROM orders WHERE true',
        'DELETE FROM orders WHERE 1 = 1',
        "UPDATE orders SET status = 'x' WHERE status = status",
      ]) {
        const outcome = await c.query(sql).then(
          (r) => `ran (${r.rowCount} rows)`,
          (e: PgError) =>
            e.code === '42501' && /^approval required/.test(e.message) ? null : `${e.code} ${e.message}`,
        );
        if (outcome !== null) notReviewed.push(`${sql}: ${outcome}`);
      }
      assert.deepEqual(notReviewed, [], 'each needs a review');
      assert.equal(await count(), before);
    } finally {
      await c.end();
    }
  });
});
