import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeCommand } from '../../../src/analysis/index.js';

describe('analyzeCommand', () => {
  it('splits words with shell quoting rules and keeps the text', () => {
    const f = analyzeCommand(`grep -r "two words" 'single quoted' escaped\\ space`);
    assert.deepEqual(f.argv, ['grep', '-r', 'two words', 'single quoted', 'escaped space']);
    assert.equal(f.text, `grep -r "two words" 'single quoted' escaped\\ space`);
  });

  it('keeps operators as argv entries of their own', () => {
    assert.deepEqual(analyzeCommand('ls -la; rm -rf / && echo ok || true | tee log > out 2>&1 &').argv, [
      'ls',
      '-la',
      ';',
      'rm',
      '-rf',
      '/',
      '&&',
      'echo',
      'ok',
      '||',
      'true',
      '|',
      'tee',
      'log',
      '>',
      'out',
      '2',
      '>&',
      '1',
      '&',
    ]);
  });

  it('keeps variables and globs as written, drops comments', () => {
    assert.deepEqual(analyzeCommand('cat $HOME/.ssh/id_rsa *.pem # steal').argv, ['cat', '$HOME/.ssh/id_rsa', '*.pem']);
  });

  it('caller misuse is a TypeError', () => {
    assert.throws(() => analyzeCommand(undefined as unknown as string), TypeError);
  });
});
