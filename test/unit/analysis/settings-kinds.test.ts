// Settings however they are changed (LEXER_SETTINGS above all), and the kinds and functions the
// bypass review found missing.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  analyzePostgres,
  changesLexerSettings,
  clearSqlAnalysisCache,
  initAnalysis,
  LEXER_SETTINGS,
} from '../../../src/analysis/index.js';

const facts = (sql: string) => analyzePostgres(sql).facts;

describe('settings and lexer settings', () => {
  before(() => initAnalysis());

  it('LEXER_SETTINGS names what changes how the server lexes', () => {
    assert.deepEqual([...LEXER_SETTINGS].sort(), ['backslash_quote', 'client_encoding', 'standard_conforming_strings']);
  });

  it('every way of changing a lexer setting names it (or * / all)', () => {
    const cases: [string, string[]][] = [
      ['SET standard_conforming_strings = off', ['standard_conforming_strings']],
      ['SET LOCAL standard_conforming_strings TO off', ['standard_conforming_strings']],
      ['SET SESSION Standard_Conforming_Strings = off', ['standard_conforming_strings']],
      ['set "standard_conforming_strings" = off', ['standard_conforming_strings']],
      ['SET backslash_quote = on', ['backslash_quote']],
      ["SET client_encoding = 'SJIS'", ['client_encoding']],
      ["SET NAMES 'BIG5'", ['client_encoding']],
      ['SET client_encoding TO DEFAULT', ['client_encoding']],
      ['RESET standard_conforming_strings', ['standard_conforming_strings']],
      ['RESET client_encoding', ['client_encoding']],
      ['RESET ALL', ['all', '*']],
      ['DISCARD ALL', ['all', '*']],
      ["SELECT set_config('standard_conforming_strings', 'off', false)", ['standard_conforming_strings']],
      ["SELECT pg_catalog.set_config('CLIENT_ENCODING', 'sjis', true)", ['client_encoding']],
      ["SELECT set_config(name, 'off', false) FROM pg_settings", ['*']],
      ["SELECT set_config('standard_' || 'conforming_strings', 'off', false)", ['*']],
      [
        "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
        ['standard_conforming_strings'],
      ],
      ["UPDATE pg_catalog.pg_settings SET setting = 'off' WHERE name = 'backslash_quote'", ['backslash_quote']],
      ["UPDATE pg_settings SET setting = 'off' WHERE name IN ('client_encoding', 'x')", ['client_encoding', 'x']],
      ["UPDATE pg_settings SET setting = 'off' WHERE name LIKE 'standard%'", ['*']],
      ["UPDATE pg_settings SET setting = 'off'", ['*']],
      [
        "WITH x AS (UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings' RETURNING 1) SELECT * FROM x",
        ['standard_conforming_strings'],
      ],
      ['ALTER ROLE app SET standard_conforming_strings = off', ['standard_conforming_strings']],
      ["ALTER ROLE app IN DATABASE shop SET client_encoding = 'sjis'", ['client_encoding']],
      ['ALTER DATABASE shop SET backslash_quote = on', ['backslash_quote']],
      ['ALTER DATABASE shop RESET ALL', ['all', '*']],
      ['ALTER SYSTEM SET standard_conforming_strings = off', ['standard_conforming_strings']],
      ['ALTER SYSTEM RESET ALL', ['all', '*']],
      [
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET standard_conforming_strings = off AS 'select 1'",
        ['standard_conforming_strings'],
      ],
      ["CREATE PROCEDURE p() LANGUAGE sql SET client_encoding = 'sjis' AS 'select 1'", ['client_encoding']],
      ['ALTER FUNCTION f() SET backslash_quote = on', ['backslash_quote']],
      ['ALTER PROCEDURE p() SET standard_conforming_strings = off', ['standard_conforming_strings']],
      ["SELECT dblink_exec('dbname=shop', 'SET standard_conforming_strings = off')", ['standard_conforming_strings']],
    ];
    for (const [sql, settings] of cases) {
      const f = facts(sql);
      assert.equal(f.parsed, true, sql);
      assert.deepEqual(f.settings, settings, sql);
      assert.notEqual(changesLexerSettings(f), null, sql);
    }
    assert.equal(changesLexerSettings(facts("SET NAMES 'SJIS'")), 'client_encoding');
    assert.equal(changesLexerSettings(facts('RESET ALL')), 'all');
  });

  it('settings that do not change lexing', () => {
    assert.equal(changesLexerSettings(facts('SET search_path TO public')), null);
    assert.equal(changesLexerSettings(facts('SET escape_string_warning = off')), null);
    assert.equal(changesLexerSettings(facts('SELECT 1')), null);
    assert.deepEqual(facts('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY').settings, ['transaction_read_only']);
    assert.deepEqual(facts('ALTER FUNCTION f() SET search_path = a').kinds, ['alter']);
  });

  it('the setting named by a literal is literal-sensitive in the cache', () => {
    clearSqlAnalysisCache();
    const a = "UPDATE pg_settings SET setting = 'off' WHERE name = 'search_path'";
    const b = "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'";
    assert.deepEqual(facts(a).settings, ['search_path']);
    assert.deepEqual(facts(b).settings, ['standard_conforming_strings']);
    assert.deepEqual(facts("SELECT set_config(1, 'x', false)").settings, ['*']);
    assert.deepEqual(facts("SELECT set_config('client_encoding', 'x', false)").settings, ['client_encoding']);
  });
});

describe('kinds and functions from the bypass review', () => {
  before(() => initAnalysis());

  it('LOCK, REFRESH, SECURITY LABEL, CHECKPOINT', () => {
    assert.deepEqual(facts('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE').kinds, ['lock']);
    assert.deepEqual(facts('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE').tables, ['orders']);
    assert.deepEqual(facts('REFRESH MATERIALIZED VIEW CONCURRENTLY mv').kinds, ['refresh']);
    assert.deepEqual(facts("SECURITY LABEL FOR selinux ON TABLE orders IS 'x'").kinds, ['security_label']);
    assert.deepEqual(facts('CHECKPOINT').kinds, ['checkpoint']);
    assert.deepEqual(facts('BEGIN; LOCK orders; COMMIT').kinds, ['transaction', 'lock', 'transaction']);
  });

  it('large objects, sequences and logical messages appear in functions', () => {
    const names = [
      "lo_import('/etc/passwd')",
      "lo_export(1, '/tmp/x')",
      'lo_unlink(1)',
      'lo_create(0)',
      'lo_creat(-1)',
      'lo_open(1, 131072)',
      "lowrite(0, 'x')",
      'loread(0, 10)',
      "lo_put(1, 0, 'x')",
      'lo_get(1)',
      "lo_from_bytea(0, 'x')",
      'lo_truncate(0, 0)',
      "setval('orders_id_seq', 1)",
      "nextval('orders_id_seq')",
      "pg_logical_emit_message(true, 'p', 'x')",
    ];
    for (const call of names) {
      const name = call.slice(0, call.indexOf('('));
      assert.ok(facts(`SELECT ${call}`).functions.includes(name), call);
      assert.ok(facts(`SELECT * FROM orders WHERE id = (SELECT pg_catalog.${call})`).functions.includes(name), call);
    }
  });

  it('DO is dynamic SQL; ON CONFLICT DO UPDATE is an update', () => {
    const d = facts("DO $$ BEGIN EXECUTE 'drop table orders'; END $$");
    assert.deepEqual(d.kinds, ['do']);
    assert.equal(d.dynamicSql, true);
    assert.deepEqual(facts('INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET x = 1').kinds, [
      'insert',
      'update',
    ]);
  });
});
