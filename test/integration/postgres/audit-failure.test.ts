// Fail closed on the audit log: when an audit entry cannot be written, nothing is returned
// unaudited. A pipelined read ends the session (FATAL 58000, no rows); a write is refused before
// it reaches the target and the session stays usable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { shopGatewaySuite } from '../../helpers/gateway.js';
import { runSql } from '../../helpers/postgres.js';

describe('audit write failures', () => {
  const suite = shopGatewaySuite();

  async function withBrokenAudit<T>(fn: () => Promise<T>): Promise<T> {
    const audit = suite.gw.running.gateway.audit;
    // The data path appends through appendDurable (no record wanted).
    const original = audit.appendDurable.bind(audit);
    audit.appendDurable = (entry) =>
      entry.type === 'operation' ? Promise.reject(new Error('disk full')) : original(entry);
    try {
      return await fn();
    } finally {
      audit.appendDurable = original;
    }
  }

  it('a read returns no rows and the session ends with FATAL 58000', async () => {
    const c = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('agent-af', ['dba'])) });
    await c.connect();
    c.on('error', () => {});
    await withBrokenAudit(async () => {
      await assert.rejects(c.query('SELECT name, email FROM customers'), (e: Error & { code?: string }) => {
        assert.equal(e.code, '58000', e.message);
        return true;
      });
    });
    await c.end().catch(() => {});
  });

  it('a write is refused before it reaches the target and the session goes on', async () => {
    const c = new pg.Client({ connectionString: suite.gw.url(await suite.gw.token('dba-af', ['dba'])) });
    await c.connect();
    await withBrokenAudit(async () => {
      await assert.rejects(
        c.query("UPDATE customers SET notes = 'x' WHERE id = 1"),
        (e: Error & { code?: string }) => e.code === '42501',
      );
    });
    const rows = await runSql(suite.target.url, 'SELECT notes FROM customers WHERE id = 1');
    assert.equal(rows[0]?.notes, 'prefers email', 'the write never reached the target');
    const ok = await c.query('SELECT 1 AS one');
    assert.equal(ok.rows[0].one, 1);
    await c.end();
  });
});
