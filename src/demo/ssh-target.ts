// The demo's SSH target: a small in-process `ssh2` server acting as the "host" web-1, so
// `warden demo` can show SSH without system packages. Its host key is generated at each start
// and it accepts only the gateway's demo key (both end up in the demo config exactly as a real
// connection's privateKey and hostKey fingerprint would).
//
// It is a demo stand-in, NOT a shell: an exec runs a few built-in commands written in JS (echo,
// cat, ls, uptime, whoami, rm) over a temp folder of sample files; nothing is ever handed to a
// system shell or program. Lines are split into words by shell-quote; `;`, `&&` and `|` work,
// anything else (redirects, globs, variables, substitutions) is refused with exit 2. `rm` really
// removes the file, so a gateway block is visible: the file is still there afterwards.
import { timingSafeEqual } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { parse as parseWords } from 'shell-quote';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import { fingerprint } from '../protocols/ssh/host-key.js';
import { generateEd25519KeyPair } from '../protocols/ssh/keygen.js';

export const DEMO_SSH_USER = 'demo';

const SAMPLE_FILES: Record<string, string> = {
  'customers.csv': `id,name,email,card_number
1,Ada Lovelace,ada@example.com,4111 1111 1111 1111
2,Alan Turing,alan@example.org,5555 5555 5555 4444
7,Grace Hopper,grace@example.net,3782 822463 10005
`,
  'app.log': `2026-01-05T10:00:01Z INFO started on :8080
2026-01-05T10:02:17Z WARN slow request /checkout 1840ms
`,
  'README.txt': `web-1 is the warden demo's stand-in host: a few built-in commands (echo, cat, ls, uptime,
whoami, rm) over this folder, not a real shell.
`,
};

const COMMANDS = ['echo', 'cat', 'ls', 'uptime', 'whoami', 'rm'] as const;

export interface DemoSshTarget {
  port: number;
  user: string;
  /** The key the gateway logs in with (OpenSSH private key text): only the gateway holds it. */
  privateKey: string;
  /** `SHA256:…` of the host key, for `connections.web-1.hostKey`. */
  hostKey: string;
  /** The folder the built-in commands see (removed on close). */
  dir: string;
  close(): Promise<void>;
}

export async function startDemoSshTarget(): Promise<DemoSshTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-demo-web-1-'));
  for (const [name, text] of Object.entries(SAMPLE_FILES)) await writeFile(join(dir, name), text);
  const host = generateEd25519KeyPair('warden demo web-1 host key');
  const client = generateEd25519KeyPair('warden demo gateway key');
  const allowed = parsedKey(client.public);
  const hostBlob = parsedKey(host.public).getPublicSSH();
  const started = Date.now();
  const connections = new Set<Connection>();

  const server = new ssh2.Server({ hostKeys: [host.private] }, (conn) => {
    connections.add(conn);
    conn.on('close', () => connections.delete(conn));
    conn.on('error', () => {});
    conn.on('authentication', (ctx) => {
      const keyMatches =
        ctx.method === 'publickey' &&
        ctx.username === DEMO_SSH_USER &&
        ctx.key.algo === allowed.type &&
        sameBytes(ctx.key.data, allowed.getPublicSSH());
      if (!keyMatches) return ctx.reject(['publickey']);
      // Without a signature the client only asks whether the key would do; with one, check it.
      if (!ctx.signature) return ctx.accept();
      if (allowed.verify(ctx.blob as Buffer, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
      ctx.reject(['publickey']);
    });
    conn.on('ready', () => {
      conn.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('pty', (accept) => accept?.());
        session.on('env', (accept) => accept?.());
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          void runLine(info.command, { dir, started })
            .then((r) => finish(channel, r))
            .catch((err: Error) => finish(channel, { stdout: '', stderr: `web-1: ${err.message}\n`, code: 1 }));
        });
        session.on('shell', (_accept, reject) => reject());
        session.on('subsystem', (_accept, reject) => reject());
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    user: DEMO_SSH_USER,
    privateKey: client.private,
    hostKey: fingerprint(hostBlob),
    dir,
    async close() {
      for (const c of connections) c.end();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function parsedKey(text: string): ssh2.ParsedKey {
  const key = ssh2.utils.parseKey(text);
  if (key instanceof Error) throw key;
  return Array.isArray(key) ? (key[0] as ssh2.ParsedKey) : key;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function finish(channel: ServerChannel, r: Result): void {
  if (r.stdout) channel.write(r.stdout);
  if (r.stderr) channel.stderr.write(r.stderr);
  channel.exit(r.code);
  channel.end();
}

interface Result {
  stdout: string;
  stderr: string;
  code: number;
}

interface Host {
  dir: string;
  started: number;
}

/** One exec line: simple commands joined by `;`, `&&` and `|` (stdout of one is stdin of the next). */
export async function runLine(line: string, host: Host): Promise<Result> {
  let unsupported: string | null = null;
  const entries = parseWords(line, (name) => {
    unsupported ??= `$${name}`;
    return '';
  });
  const out: Result = { stdout: '', stderr: '', code: 0 };
  let words: string[] = [];
  let pipeline: string[][] = [];
  let skip = false;
  const runPipeline = async () => {
    if (words.length > 0) pipeline.push(words);
    words = [];
    let input = '';
    let last: Result = { stdout: '', stderr: '', code: 0 };
    if (!skip) {
      for (const argv of pipeline) {
        last = await runCommand(argv, input, host);
        out.stderr += last.stderr;
        input = last.stdout;
      }
      out.stdout += last.stdout;
      out.code = last.code;
    }
    pipeline = [];
  };
  for (const e of entries) {
    if (typeof e === 'string') {
      words.push(e);
      continue;
    }
    const op = 'op' in e ? e.op : 'comment';
    if (op === '|') {
      pipeline.push(words);
      words = [];
    } else if (op === ';' || op === '&&') {
      await runPipeline();
      skip = skip || (op === '&&' && out.code !== 0);
      if (op === ';') skip = false;
    } else {
      unsupported ??= op === 'glob' ? 'a glob' : op === 'comment' ? 'a comment' : `'${op}'`;
    }
  }
  if (unsupported !== null)
    return {
      stdout: '',
      stderr: `web-1: ${unsupported} is not supported (the demo host runs simple commands, not a shell)\n`,
      code: 2,
    };
  await runPipeline();
  return out;
}

async function runCommand(argv: string[], input: string, host: Host): Promise<Result> {
  const [name = '', ...args] = argv;
  const ok = (stdout: string): Result => ({ stdout, stderr: '', code: 0 });
  const fail = (stderr: string, code = 1): Result => ({ stdout: '', stderr: `${name}: ${stderr}\n`, code });
  const path = (arg: string) => {
    const p = resolve(host.dir, arg);
    return p === host.dir || p.startsWith(host.dir + sep) ? p : null;
  };
  switch (name) {
    case 'echo':
      return args[0] === '-n' ? ok(args.slice(1).join(' ')) : ok(`${args.join(' ')}\n`);
    case 'whoami':
      return ok(`${DEMO_SSH_USER}\n`);
    case 'uptime': {
      const min = Math.floor((Date.now() - host.started) / 60_000);
      return ok(` ${new Date().toISOString().slice(11, 19)} up ${min} min,  1 user,  load average: 0.00, 0.00, 0.00\n`);
    }
    case 'ls': {
      const names = (await readdir(host.dir)).sort();
      return ok(names.length ? `${names.join('\n')}\n` : '');
    }
    case 'cat': {
      if (args.length === 0) return ok(input);
      let stdout = '';
      for (const a of args) {
        const p = path(a);
        const text = p && (await readFile(p, 'utf8').catch(() => null));
        if (text === null) return { ...fail(`${a}: No such file`), stdout };
        stdout += text;
      }
      return ok(stdout);
    }
    case 'rm': {
      const force = args.some((a) => /^-[a-zA-Z]*f/.test(a));
      for (const a of args.filter((x) => !x.startsWith('-'))) {
        const p = path(a);
        const isFile = p !== null && p !== host.dir && (await stat(p).catch(() => null))?.isFile();
        if (!isFile) {
          if (!force) return fail(`cannot remove '${a}': No such file`);
          continue;
        }
        await rm(p);
      }
      return ok('');
    }
    default:
      return fail(`command not found (web-1 is the demo's stand-in host with only: ${COMMANDS.join(', ')})`, 127);
  }
}
