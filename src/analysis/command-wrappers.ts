// Commands that run (some of) their arguments as another command: how to find that command.
// Each entry knows its options (which take a value, so the value is not taken for the command)
// and what it runs: the words after its options, a script string given to a shell (`sh -c`,
// `eval`, `su -c`, `env -S`, `watch`), or something unknown (a shell reading its script from
// stdin or from a file). A value that is only known at run time where it matters is unknown.

/** A word's value; null when known only at run time. */
export type WordValue = string | null;

/** What a wrapper runs. */
export type Continuation =
  | { kind: 'words'; words: WordValue[] }
  | { kind: 'script'; script: string | null }
  | { kind: 'unknown' };

export const SHELLS: ReadonlySet<string> = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'yash', 'fish']);

interface Options {
  /** Short option letters that take a value (`-u root`, `-uroot`). */
  short?: string;
  /** Long options that take a value (`--user root`; `--user=root` always works). */
  long?: readonly string[];
}

interface Parsed {
  /** Index of the first word after the options; -1 when an option is unknown at analysis time. */
  at: number;
  /** Option letters and long names seen, with their values. */
  seen: Map<string, WordValue>;
}

function parseOptions(words: readonly WordValue[], from: number, o: Options): Parsed {
  const seen = new Map<string, WordValue>();
  const short = o.short ?? '';
  const long = new Set(o.long ?? []);
  let i = from;
  while (i < words.length) {
    const w = words[i];
    if (w === null || w === undefined) return { at: -1, seen };
    if (w === '--') return { at: i + 1, seen };
    if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      const name = eq === -1 ? w.slice(2) : w.slice(2, eq);
      if (eq !== -1) seen.set(name, w.slice(eq + 1));
      else if (long.has(name)) {
        seen.set(name, words[i + 1] ?? null);
        i++;
      } else seen.set(name, '');
      i++;
      continue;
    }
    if (w.length < 2 || w[0] !== '-') return { at: i, seen };
    for (let j = 1; j < w.length; j++) {
      const c = w[j]!;
      if (short.includes(c)) {
        if (j + 1 < w.length) seen.set(c, w.slice(j + 1));
        else {
          seen.set(c, words[i + 1] ?? null);
          i++;
        }
        break;
      }
      seen.set(c, '');
    }
    i++;
  }
  return { at: i, seen };
}

const words = (ws: readonly WordValue[], at: number): Continuation[] =>
  at >= 0 && at < ws.length ? [{ kind: 'words', words: ws.slice(at) }] : [];
const UNKNOWN: Continuation[] = [{ kind: 'unknown' }];

/** Options, then the command (possibly after `skip` positional words such as a duration). */
function prefix(o: Options, skip = 0): (ws: readonly WordValue[]) => Continuation[] {
  return (ws) => {
    const p = parseOptions(ws, 1, o);
    return p.at === -1 ? UNKNOWN : words(ws, p.at + skip);
  };
}

function shell(ws: readonly WordValue[]): Continuation[] {
  const p = parseOptions(ws, 1, { short: 'oO', long: ['rcfile', 'init-file'] });
  if (p.at === -1) return UNKNOWN;
  // `-c`: the first operand is the script; else an operand is a script file; none: stdin.
  if (p.seen.has('c')) return [{ kind: 'script', script: p.at < ws.length ? ws[p.at]! : null }];
  return UNKNOWN;
}

/** A script given as an option's value (`su -c`, `runuser -c`, `flock -c`, `script -c`). */
function withScriptOption(
  o: Options,
  name: string,
  otherwise: (ws: readonly WordValue[], at: number) => Continuation[],
) {
  return (ws: readonly WordValue[]): Continuation[] => {
    const p = parseOptions(ws, 1, o);
    if (p.at === -1) return UNKNOWN;
    if (p.seen.has(name)) return [{ kind: 'script', script: p.seen.get(name) ?? null }];
    const long = o.long?.find((l) => l.startsWith('command'));
    if (long && p.seen.has(long)) return [{ kind: 'script', script: p.seen.get(long) ?? null }];
    return otherwise(ws, p.at);
  };
}

/** Every word after the name, joined with spaces, as a script (`eval`, `watch`). */
function joined(ws: readonly WordValue[], at: number): Continuation[] {
  const rest = ws.slice(at);
  if (rest.length === 0) return [];
  if (rest.some((w) => w === null)) return UNKNOWN;
  return [{ kind: 'script', script: rest.join(' ') }];
}

const SUDO: Options = {
  short: 'ugCDhprtUTR',
  long: [
    'user',
    'group',
    'close-from',
    'chdir',
    'host',
    'prompt',
    'role',
    'type',
    'other-user',
    'command-timeout',
    'chroot',
  ],
};

const WRAPPERS: Record<string, (ws: readonly WordValue[]) => Continuation[]> = {
  sudo(ws) {
    const p = parseOptions(ws, 1, SUDO);
    if (p.at === -1) return UNKNOWN;
    if (p.at >= ws.length) {
      // `sudo -s` / `sudo -i` without a command: a shell reading its commands from stdin.
      return p.seen.has('s') || p.seen.has('i') || p.seen.has('shell') || p.seen.has('login') ? UNKNOWN : [];
    }
    return words(ws, p.at);
  },
  doas(ws) {
    const p = parseOptions(ws, 1, { short: 'uC' });
    if (p.at === -1) return UNKNOWN;
    if (p.at >= ws.length) return p.seen.has('s') ? UNKNOWN : [];
    return words(ws, p.at);
  },
  env(ws) {
    const p = parseOptions(ws, 1, { short: 'uCS', long: ['unset', 'chdir', 'split-string'] });
    if (p.at === -1) return UNKNOWN;
    const split = p.seen.get('S') ?? p.seen.get('split-string');
    if (split !== undefined) return [{ kind: 'script', script: split }];
    let at = p.at;
    while (at < ws.length && ws[at] !== null && /^[A-Za-z_][A-Za-z0-9_]*=/.test(ws[at]!)) at++;
    if (at < ws.length && ws[at] === null) return UNKNOWN;
    return words(ws, at);
  },
  nohup: prefix({}),
  setsid: prefix({}),
  builtin: prefix({}),
  nocorrect: prefix({}),
  unbuffer: prefix({}),
  caffeinate: prefix({ short: 'tw' }),
  time: prefix({ short: 'fo', long: ['format', 'output'] }),
  nice: prefix({ short: 'n', long: ['adjustment'] }),
  timeout: prefix({ short: 'sk', long: ['signal', 'kill-after'] }, 1),
  stdbuf: prefix({ short: 'ioe', long: ['input', 'output', 'error'] }),
  ionice: prefix({ short: 'cnp', long: ['class', 'classdata', 'pid', 'pgid', 'uid'] }),
  chrt: prefix({}, 1),
  taskset: prefix({}, 1),
  chroot: prefix({ long: ['userspec', 'groups'] }, 1),
  numactl: prefix({ short: 'CNmpPiw', long: ['cpunodebind', 'physcpubind', 'membind', 'preferred', 'interleave'] }),
  strace: prefix({ short: 'oepsuEabIOSXP' }),
  ltrace: prefix({ short: 'oepsuEabnAD' }),
  nsenter: prefix({ short: 'tSGmuinpUCTwr', long: ['target'] }),
  unshare: prefix({ long: ['map-user', 'map-group', 'propagation', 'setgroups'] }),
  'systemd-run': prefix({
    short: 'pEMHu',
    long: [
      'unit',
      'property',
      'setenv',
      'uid',
      'gid',
      'working-directory',
      'description',
      'slice',
      'machine',
      'host',
      'on-calendar',
      'on-active',
      'nice',
    ],
  }),
  exec: prefix({ short: 'a' }),
  command(ws) {
    const p = parseOptions(ws, 1, {});
    if (p.at === -1) return UNKNOWN;
    // `command -v rm` only looks the name up.
    if (p.seen.has('v') || p.seen.has('V')) return [];
    return words(ws, p.at);
  },
  busybox: prefix({}),
  xargs: prefix({
    short: 'adEILnPs',
    long: [
      'arg-file',
      'delimiter',
      'eof',
      'replace',
      'max-lines',
      'max-args',
      'max-procs',
      'max-chars',
      'process-slot-var',
    ],
  }),
  parallel: prefix({
    short: 'jSaIdE',
    long: ['jobs', 'sshlogin', 'arg-file', 'delimiter', 'joblog', 'results', 'tmpdir'],
  }),
  flock(ws) {
    const p = parseOptions(ws, 1, { short: 'wEc', long: ['timeout', 'conflict-exit-code', 'command'] });
    if (p.at === -1) return UNKNOWN;
    const script = p.seen.get('c') ?? p.seen.get('command');
    if (script !== undefined) return [{ kind: 'script', script }];
    // flock FILE -c SCRIPT | flock FILE COMMAND… | flock FD
    const rest = ws.slice(p.at + 1);
    if (rest[0] === '-c' || rest[0] === '--command') return [{ kind: 'script', script: rest[1] ?? null }];
    return words(rest, 0);
  },
  su: withScriptOption(
    { short: 'csgGw', long: ['command', 'shell', 'group', 'supp-group', 'whitelist-environment'] },
    'c',
    () => UNKNOWN,
  ),
  runuser: withScriptOption(
    { short: 'csgGuw', long: ['command', 'shell', 'group', 'supp-group', 'user', 'whitelist-environment'] },
    'c',
    (ws, at) => (at < ws.length ? words(ws, at) : UNKNOWN),
  ),
  script: withScriptOption(
    { short: 'cEIOBTmt', long: ['command', 'echo', 'log-in', 'log-out', 'log-io', 'log-timing', 'logging-format'] },
    'c',
    () => UNKNOWN,
  ),
  eval: (ws) => joined(ws, 1),
  watch(ws) {
    const p = parseOptions(ws, 1, { short: 'nqd', long: ['interval', 'differences'] });
    if (p.at === -1) return UNKNOWN;
    return p.seen.has('x') || p.seen.has('exec') ? words(ws, p.at) : joined(ws, p.at);
  },
  trap(ws) {
    const p = parseOptions(ws, 1, {});
    if (p.at === -1) return UNKNOWN;
    if (p.seen.has('p') || p.seen.has('l') || p.at >= ws.length - 1) return [];
    const action = ws[p.at];
    if (action === null) return UNKNOWN;
    return action === '-' || action === '' ? [] : [{ kind: 'script', script: action! }];
  },
  // Runs a script file: its commands are not known here.
  source: () => UNKNOWN,
  '.': () => UNKNOWN,
  find(ws) {
    const runs: Continuation[] = [];
    for (let i = 1; i < ws.length; i++) {
      const w = ws[i];
      if (w === '-exec' || w === '-execdir' || w === '-ok' || w === '-okdir') {
        let end = i + 1;
        while (end < ws.length && ws[end] !== ';' && ws[end] !== '+') end++;
        runs.push({ kind: 'words', words: ws.slice(i + 1, end) });
        i = end;
      }
    }
    return runs;
  },
};

/** What the program `name` (a base name) runs, given its words (`words[0]` is the name). */
export function wrapperRuns(name: string, ws: readonly WordValue[]): Continuation[] {
  if (SHELLS.has(name)) return shell(ws);
  // Own keys only: a program named `valueOf` or `constructor` is not a wrapper (found by fuzzing).
  const w = Object.hasOwn(WRAPPERS, name) ? WRAPPERS[name] : undefined;
  return w ? w(ws) : [];
}
