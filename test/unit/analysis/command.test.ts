import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzeCommand } from '../../../src/analysis/index.js';

const programs = (line: string) => [...analyzeCommand(line).programs].sort();

describe('analyzeCommand: argv', () => {
  it('is the first simple command, quoting resolved, the text kept', () => {
    const f = analyzeCommand(`grep -r "two words" 'single quoted' escaped\\ space | wc -l`);
    assert.deepEqual(f.argv, ['grep', '-r', 'two words', 'single quoted', 'escaped space']);
    assert.equal(f.text, `grep -r "two words" 'single quoted' escaped\\ space | wc -l`);
    assert.equal(f.parsed, true);
  });

  it('keeps run-time words as written, drops comments', () => {
    assert.deepEqual(analyzeCommand('cat $HOME/.ssh/id_rsa *.pem # steal').argv, ['cat', '$HOME/.ssh/id_rsa', '*.pem']);
  });

  it('caller misuse is a TypeError', () => {
    assert.throws(() => analyzeCommand(undefined as unknown as string), TypeError);
  });
});

describe('analyzeCommand: programs (an attacker hiding rm)', () => {
  const hidesRm: [string, string[]][] = [
    ['rm -rf ~/victim', ['rm']],
    [`r''m -rf ~/victim`, ['rm']],
    [`"r""m" x`, ['rm']],
    ['\\rm x', ['rm']],
    [`$'\\x72m' x`, ['rm']],
    ['/usr/bin/rm x', ['rm']],
    ['ls; rm x && echo ok || true', ['echo', 'ls', 'rm', 'true']],
    ['echo x | xargs rm -rf ~/victim', ['echo', 'rm', 'xargs']],
    ['echo x | xargs -n 1 -I{} rm {}', ['echo', 'rm', 'xargs']],
    [`bash -c "rm -rf ~/victim"`, ['bash', 'rm']],
    [`sh -ec 'bash -c "rm deep"'`, ['bash', 'rm', 'sh']],
    [`eval 'rm x'`, ['eval', 'rm']],
    ['find . -name "*.log" -exec rm {} \\; -execdir shred -u {} +', ['find', 'rm', 'shred']],
    [
      'sudo -u root env FOO=1 nohup timeout -s KILL 5 nice -n 3 stdbuf -o L rm x',
      ['env', 'nice', 'nohup', 'rm', 'stdbuf', 'sudo', 'timeout'],
    ],
    ['diff <(ls) <(rm y)', ['diff', 'ls', 'rm']],
    ['echo $(rm a) `rm b`', ['echo', 'rm']],
    ['a=$(rm q)', ['rm']],
    ['f() { rm y; }; f', ['f', 'rm']],
    ['(cd /tmp && rm z)', ['cd', 'rm']],
    ['{ rm z; }', ['rm']],
    ['if true; then rm i; fi', ['rm', 'true']],
    ['for f in a b; do rm "$f"; done', ['rm']],
    ['while rm w; do :; done', [':', 'rm']],
    ['case x in x) rm c;; esac', ['rm']],
    ['[[ $(rm t) ]]', ['rm']],
    ['cat <<EOF\n$(rm h)\nEOF', ['cat', 'rm']],
    [`trap 'rm t' EXIT`, ['rm', 'trap']],
    [`su -c 'rm s' root`, ['rm', 'su']],
    [`env -S 'rm e'`, ['env', 'rm']],
    ['watch -n 1 rm w', ['rm', 'watch']],
    ['time rm x', ['rm']],
    ['exec rm x', ['exec', 'rm']],
    ['command rm x', ['command', 'rm']],
    ['busybox rm x', ['busybox', 'rm']],
    [`flock /tmp/l -c 'rm l'`, ['flock', 'rm']],
    ['coproc rm x', ['rm']],
  ];
  for (const [line, expected] of hidesRm) it(JSON.stringify(line), () => assert.deepEqual(programs(line), expected));
});

describe('analyzeCommand: names known only at run time add *', () => {
  const unknown: [string, string[]][] = [
    ['$(echo rm) -rf ~/victim', ['*', 'echo']],
    ['`echo rm` x', ['*', 'echo']],
    ['$X a', ['*']],
    ['"$X" a', ['*']],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    ['${X:-rm} a', ['*']],
    ['r* x', ['*']],
    ['/bin/r? x', ['*']],
    ['{rm,x} y', ['*']],
    [`sh -c "$CMD"`, ['*', 'sh']],
    ['echo rm x | sh', ['*', 'echo', 'sh']],
    ['bash <<EOF\nrm x\nEOF', ['*', 'bash']],
    ['bash script.sh', ['*', 'bash']],
    ['bash -s < script.sh', ['*', 'bash']],
    ['source ./x.sh', ['*', 'source']],
    ['. ./x.sh', ['*', '.']],
    ['sudo -i', ['*', 'sudo']],
    ['sudo $CMD', ['*', 'sudo']],
    ['xargs < list', ['xargs']],
    ['eval "$X"', ['*', 'eval']],
  ];
  for (const [line, expected] of unknown) it(JSON.stringify(line), () => assert.deepEqual(programs(line), expected));

  it('does not see rm where only its name is looked up or echoed', () => {
    assert.deepEqual(programs('command -v rm'), ['command']);
    assert.deepEqual(programs(`echo 'rm -rf /'`), ['echo']);
    assert.deepEqual(programs('grep rm file'), ['grep']);
  });

  it('stops following nested shells at a depth, as unknown', () => {
    let line = 'rm x';
    for (let i = 0; i < 12; i++) line = `sh -c ${JSON.stringify(line)}`;
    const f = analyzeCommand(line);
    assert.ok(f.programs.includes('*'));
  });
});

describe('analyzeCommand: parsed', () => {
  for (const bad of ['echo "unterminated', 'if true; then', 'echo $(', `bash -c 'echo "x'`]) {
    it(`${JSON.stringify(bad)} is not parsed, programs *`, () => {
      const f = analyzeCommand(bad);
      assert.equal(f.parsed, false);
      assert.deepEqual(f.programs, ['*']);
    });
  }

  it('a huge line is refused, not parsed', () => {
    assert.equal(analyzeCommand(`echo ${'a '.repeat(40_000)}`).parsed, false);
  });
});
