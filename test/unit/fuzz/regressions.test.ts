// Inputs the fuzzers found, kept as plain regression tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeCommand } from '../../../src/analysis/index.js';

describe('fuzz regressions', () => {
  it('a program named like an Object.prototype member is a program, not a crash', () => {
    for (const name of ['valueOf', 'constructor', 'toString', 'hasOwnProperty', '__proto__', '__defineGetter__']) {
      const f = analyzeCommand(`${name} -x`);
      assert.equal(f.parsed, true, name);
      assert.deepEqual(f.programs, [name]);
      // …and wrapping it still finds what runs inside.
      assert.deepEqual(analyzeCommand(`sudo ${name} rm`).programs.sort(), [name, 'sudo'].sort());
    }
  });
});
