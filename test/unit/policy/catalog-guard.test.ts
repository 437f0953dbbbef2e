// maskedCatalogProblem remembers its answer per (statement facts, masking plan), except for
// statements reading a SQL-text view, whose own text it parses each time.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { analyzePostgres, initAnalysis } from '../../../src/analysis/index.js';
import type { MaskPlan } from '../../../src/core/types.js';
import { maskedCatalogProblem } from '../../../src/policy/catalog-guard.js';

before(() => initAnalysis());

const PLAN: MaskPlan = Object.freeze({ columns: ['customers.email'], detect: [] });

test('catalog guard: the same facts and plan give the same answer, remembered or not', () => {
  const plain = analyzePostgres('SELECT id FROM customers WHERE id = 1').facts;
  const stats = analyzePostgres('SELECT most_common_vals FROM pg_stats').facts;
  const copy = analyzePostgres('UPDATE customers SET name = email').facts;
  for (let i = 0; i < 3; i++) {
    assert.equal(maskedCatalogProblem('SELECT id FROM customers WHERE id = 1', plain, PLAN), null);
    assert.match(
      maskedCatalogProblem('SELECT most_common_vals FROM pg_stats', stats, PLAN) ?? '',
      /planner statistics/,
    );
    assert.match(maskedCatalogProblem('UPDATE customers SET name = email', copy, PLAN) ?? '', /would unmask it/);
  }
  // Another plan is another answer: nothing is masked by name, so the copy is harmless.
  const other: MaskPlan = Object.freeze({ columns: [], detect: ['email' as const] });
  assert.equal(maskedCatalogProblem('UPDATE customers SET name = email', copy, other), null);
});

test('catalog guard: a statement on pg_stat_activity is judged on its own text every time', () => {
  const facts = analyzePostgres('SELECT query FROM pg_stat_activity').facts;
  assert.equal(maskedCatalogProblem('SELECT query FROM pg_stat_activity', facts, PLAN), null);
  // The same facts object with text that uses `query` in an expression: not answered from memory.
  assert.match(
    maskedCatalogProblem('SELECT upper(query) FROM pg_stat_activity', facts, PLAN) ?? '',
    /query is used in an expression/,
  );
  assert.equal(maskedCatalogProblem('SELECT query FROM pg_stat_activity', facts, PLAN), null);
});
