// The session's named statements and portals follow the server's confirmations only.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzePostgres, initAnalysis, withExecutedStatements } from '../../../src/analysis/index.js';
import { redactQuotedValues } from '../../../src/protocols/postgres/error-text.js';
import { type Portal, SessionNames, type Statement } from '../../../src/protocols/postgres/statements.js';

const stmt = (name: string, text: string): Statement => ({ name, text, verdict: null, fresh: true });
const portal = (name: string, s: Statement): Portal => ({
  name,
  statement: s,
  verdict: null as never,
  resultFormats: [],
  fields: null,
});

describe('SessionNames', () => {
  it('a Parse the server rejects changes nothing; the old statement stays', () => {
    const n = new SessionNames();
    const del = stmt('d', 'DELETE FROM t');
    n.parseSent(del);
    n.parseAnswered(del, true);
    n.synced();
    const sel = stmt('d', 'SELECT 1');
    n.parseSent(sel);
    // Same batch: a Bind after it runs it or nothing.
    assert.equal(n.statement('d'), sel);
    n.synced();
    // After a Sync, unconfirmed: the lookup must wait.
    assert.equal(n.statement('d'), 'unsettled');
    assert.equal(n.settled, false);
    n.parseAnswered(sel, false);
    assert.equal(n.settled, true);
    assert.equal(n.statement('d'), del);
  });

  it('SQL changes in flight make every lookup wait; confirmed changes apply', () => {
    const n = new SessionNames();
    const s = stmt('s', 'SELECT true');
    n.parseSent(s);
    n.parseAnswered(s, true);
    n.sqlSent();
    assert.equal(n.statement('s'), 'unsettled');
    n.apply({ op: 'deallocate', name: 's' });
    n.apply({ op: 'prepare', name: 's', body: 'SELECT email FROM customers' });
    n.sqlAnswered();
    const now = n.statement('s');
    assert.ok(typeof now === 'object');
    assert.equal(now.text, 'SELECT email FROM customers');
    assert.equal(now.verdict, null, 'a SQL-prepared statement is decided at every Bind');
  });

  it('portals: confirmed on BindComplete, gone at transaction end, on DECLARE/CLOSE of the name, and after a simple Query (unnamed)', () => {
    const n = new SessionNames();
    const s = stmt('', 'SELECT 1');
    const p = portal('c', s);
    n.bindSent(p);
    n.bindAnswered(p, true);
    assert.equal(n.portal('c'), p);
    n.apply({ op: 'declare', name: 'c' });
    assert.equal(n.portal('c'), undefined);
    const q = portal('', s);
    n.bindSent(q);
    n.bindAnswered(q, true);
    n.simpleQuerySent();
    assert.equal(n.portal(''), undefined);
    const r = portal('r', s);
    n.bindSent(r);
    n.bindAnswered(r, true);
    n.transactionEnded();
    assert.equal(n.portal('r'), undefined);
  });
});

describe('EXECUTE facts', () => {
  before(initAnalysis);

  it('EXECUTE p has the facts of what p is; an unknown name fails closed', () => {
    const text = 'EXECUTE p';
    const known = withExecutedStatements(text, analyzePostgres(text), new Map([['p', 'DELETE FROM audit_notes']]));
    assert.ok(known);
    assert.ok(known.facts.kinds.includes('delete'));
    assert.equal(known.facts.writes, true);
    assert.equal(known.facts.allWritesFiltered, false);
    assert.match(known.resolved, /p: DELETE FROM audit_notes/);
    const unknown = withExecutedStatements(text, analyzePostgres(text), new Map());
    assert.equal(unknown?.facts.parsed, false);
    assert.ok(unknown?.facts.kinds.includes('unparsed'));
  });

  it('a PREPARE earlier in the same text is what a later EXECUTE runs', () => {
    const text = 'DEALLOCATE p; PREPARE p AS UPDATE orders SET status = $1; EXECUTE p(1)';
    const r = withExecutedStatements(text, analyzePostgres(text), new Map([['p', 'SELECT 1']]));
    assert.ok(r?.facts.kinds.includes('update'));
    assert.match(r?.resolved ?? '', /UPDATE orders/);
  });

  it('texts without EXECUTE are left alone', () => {
    assert.equal(withExecutedStatements('SELECT 1', analyzePostgres('SELECT 1'), new Map()), null);
  });
});

describe('redactQuotedValues', () => {
  it('redacts quoted values the statement does not contain, keeps those it does', () => {
    const sql = 'SELECT email::regclass FROM customers WHERE id = 1';
    assert.equal(
      redactQuotedValues('relation "alice@example.com" does not exist', sql),
      'relation "***" does not exist',
    );
    assert.equal(redactQuotedValues('relation "Customers" does not exist', sql), 'relation "Customers" does not exist');
    assert.equal(
      redactQuotedValues('Key (ssn)=(123-45-6789) already exists.', 'INSERT INTO customers VALUES ($1)'),
      'Key (ssn)=(***) already exists.',
    );
    assert.equal(redactQuotedValues('no quotes here', null), 'no quotes here');
  });
});
