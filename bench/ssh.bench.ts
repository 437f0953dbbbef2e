// SSH benchmark (`npm run bench`): Debian's sshd as the target (test/helpers/sshd.ts) and Warden's
// SSH front door in a child process (bench/ssh-gateway.ts: guardrail rules, masking with content
// detectors, recording, audit). The real OpenSSH client is used for both paths with an ed25519
// key (directly: the target's authorized key; through Warden: a key with a user certificate from
// the gateway's CA), and the two paths run interleaved in the same run:
//   1. exec round trip of `true`: a new ssh process each time (connect, key exchange, auth, exec),
//      and over one open connection (ControlMaster; channel open + exec + exit status only);
//      median and p99, Warden / direct.
//   2. `cat` of a generated 100 MB text file with emails in it: MB/s, Warden / direct (goal
//      ≥ 0.5× with masking on), the gateway process's peak RSS (goal < 200 MB), and whether any
//      clear email reached the client.
// --quick (or SSH_BENCH_QUICK=1): fewer exec samples and one cat round instead of three.
// SSH_BENCH_MB overrides the file size; SSH_BENCH_MASKING=0 runs the gateway without masking (A/B).
import { spawn } from 'node:child_process';
import { chownSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startSshd } from '../test/helpers/sshd.js';
import { compileGatewayChild } from './pg/compile.js';

const QUICK = process.argv.includes('--quick') || process.env.SSH_BENCH_QUICK === '1';
const MB = Number(process.env.SSH_BENCH_MB ?? 100);
const FRESH_SAMPLES = QUICK ? 10 : 30;
const MUX_SAMPLES = QUICK ? 40 : 150;
const CAT_ROUNDS = QUICK ? 1 : 3;

const COMMON = [
  ...['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'],
  ...['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'PasswordAuthentication=no'],
  ...['-o', 'ControlMaster=no'],
];

interface Path {
  name: string;
  args: string[]; // -i … -p … user@host
  mux?: string; // ControlPath of an open master connection
}

interface Run {
  code: number | null;
  ms: number;
  bytes: number;
  leaked: boolean;
  stderr: string;
}

/** One ssh run; stdout is counted (and searched for a clear email), not kept. */
function ssh(path: Path, command: string, opts: { mux?: boolean } = {}): Promise<Run> {
  const mux = opts.mux && path.mux ? ['-o', `ControlPath=${path.mux}`] : [];
  const t = performance.now();
  const child = spawn('ssh', [...mux, ...COMMON, ...path.args, command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  let leaked = false;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    bytes += d.length;
    // Generated emails are `customerN@…`; masked they read `c***@…`, and no other text has the word.
    if (!leaked && d.includes('ustomer')) leaked = true;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, ms: performance.now() - t, bytes, leaked, stderr })),
  );
}

async function mustSsh(path: Path, command: string, opts: { mux?: boolean } = {}): Promise<Run> {
  const r = await ssh(path, command, opts);
  if (r.code !== 0) throw new Error(`${path.name}: ssh ${command} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/** A ControlMaster connection for `path`, kept open until the returned function is called. */
async function openMaster(path: Path, dir: string): Promise<() => void> {
  const sock = join(dir, `mux-${path.name}`);
  const child = spawn('ssh', ['-M', '-N', '-o', `ControlPath=${sock}`, ...COMMON.slice(0, -2), ...path.args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 400; i++) {
    const check = spawn('ssh', ['-o', `ControlPath=${sock}`, '-O', 'check', 'x'], { stdio: 'ignore' });
    if ((await new Promise((r) => check.on('close', r))) === 0) break;
    if (child.exitCode !== null) throw new Error(`${path.name}: master connection exited ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  path.mux = sock;
  return () => child.kill();
}

function quantile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

function peakRssMb(pid: number): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return hwm ? Number(hwm[1]) / 1024 : Number.NaN;
}

/** The same samples for both paths, alternating which goes first. */
async function interleavedExec(paths: [Path, Path], samples: number, mux: boolean): Promise<number[][]> {
  const ms: number[][] = [[], []];
  for (const p of paths) await mustSsh(p, 'true', { mux }); // warm-up
  for (let i = 0; i < samples; i++) {
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const k of order) ms[k]!.push((await mustSsh(paths[k]!, 'true', { mux })).ms);
  }
  for (const m of ms) m.sort((a, b) => a - b);
  return ms;
}

/** ≈ mb MB of CSV-like lines, every fourth with an email, owned by the target user. */
function writeBigFile(file: string, mb: number, user: string): number {
  const fd = openSync(file, 'w', 0o644);
  let total = 0;
  let n = 0;
  const target = mb * 1_000_000;
  while (total < target) {
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++, n++) {
      const who = n % 4 === 0 ? `customer${n}@example.com` : 'no contact on file';
      lines.push(`${n},order ${n % 977} shipped to depot ${n % 31},${who},total ${(n % 1000) * 1.5} EUR,status ok\n`);
    }
    total += writeSync(fd, lines.join(''));
  }
  closeSync(fd);
  chownSync(file, Number(readFileSync('/etc/passwd', 'utf8').match(new RegExp(`^${user}:[^:]*:(\\d+)`, 'm'))![1]), -1);
  return total;
}

/**
 * The gateway child as plain JavaScript next to a transpiled src/ (as `warden` runs from dist/;
 * the tsx loader would add ~100 MB RSS, see bench/pg/compile.ts). WARDEN_BENCH_TSX=1: under tsx.
 */
function gatewayCommand(dir: string): string[] {
  const source = fileURLToPath(new URL('./ssh-gateway.ts', import.meta.url));
  if (process.env.WARDEN_BENCH_TSX === '1') return ['--import', 'tsx', source];
  const out = join(dir, 'js');
  compileGatewayChild(out);
  const js = ts.transpileModule(readFileSync(source, 'utf8'), {
    fileName: source,
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  }).outputText;
  writeFileSync(join(out, 'bench/ssh-gateway.js'), js);
  return [join(out, 'bench/ssh-gateway.js')];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-bench-ssh-'));
  const target = await startSshd();
  const kill: Array<() => void> = [];
  let gateway: ReturnType<typeof spawn> | undefined;
  try {
    const file = join(target.home, 'bench-customers.csv');
    const size = writeBigFile(file, MB, target.user);
    gateway = spawn(
      process.execPath,
      [...gatewayCommand(dir), dir, String(target.port), target.user, target.privateKeyPath, target.hostKey],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const g = gateway;
    const ready = JSON.parse(
      await new Promise<string>((resolve, reject) => {
        createInterface({ input: g.stdout! }).once('line', resolve);
        g.once('exit', (code) => reject(new Error(`ssh-gateway exited with ${code}`)));
      }),
    ) as { sshPort: number; key: string; cert: string };
    const direct: Path = {
      name: 'direct',
      args: ['-i', target.privateKeyPath, '-p', String(target.port), `${target.user}@127.0.0.1`],
    };
    const warden: Path = {
      name: 'warden',
      args: ['-i', ready.key, '-o', `CertificateFile=${ready.cert}`, '-p', String(ready.sshPort), 'web-1@127.0.0.1'],
    };
    const paths: [Path, Path] = [direct, warden];

    console.log(`Real OpenSSH client, ed25519 keys both ways (Warden: user certificate), interleaved`);
    const row = (name: string, ms: number[]) =>
      `  ${name.padEnd(34)} median ${quantile(ms, 0.5).toFixed(1).padStart(7)} ms   p99 ${quantile(ms, 0.99).toFixed(1).padStart(7)} ms   (n=${ms.length})`;
    const ratio = (w: number[], d: number[], p: number) => (quantile(w, p) / quantile(d, p)).toFixed(2);
    const [fd, fw] = await interleavedExec(paths, FRESH_SAMPLES, false);
    console.log(`exec \`true\`, a new ssh process each time (connect + kex + auth + exec):`);
    console.log(row('direct ssh → sshd', fd!));
    console.log(row('ssh → Warden → sshd', fw!));
    console.log(`  Warden / direct: median ${ratio(fw!, fd!, 0.5)}×, p99 ${ratio(fw!, fd!, 0.99)}×`);

    for (const p of paths) kill.push(await openMaster(p, dir));
    const [md, mw] = await interleavedExec(paths, MUX_SAMPLES, true);
    console.log(`exec \`true\` over one open connection (ControlMaster: channel + exec + exit status):`);
    console.log(row('direct ssh → sshd', md!));
    console.log(row('ssh → Warden → sshd', mw!));
    console.log(
      `  Warden / direct: median ${ratio(mw!, md!, 0.5)}×, p99 ${ratio(mw!, md!, 0.99)}×; added median ${(quantile(mw!, 0.5) - quantile(md!, 0.5)).toFixed(1)} ms`,
    );

    const pid = gateway.pid!;
    const rssBefore = peakRssMb(pid);
    const rates: number[][] = [[], []];
    let leaked = false;
    let wardenBytes = 0;
    for (let i = 0; i < CAT_ROUNDS; i++) {
      const order = i % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const r = await mustSsh(paths[k]!, `cat ${file}`);
        rates[k]!.push(size / 1e6 / (r.ms / 1000));
        if (k === 1) {
          leaked ||= r.leaked;
          wardenBytes = r.bytes;
        } else if (r.bytes !== size) throw new Error(`direct cat returned ${r.bytes} of ${size} bytes`);
      }
    }
    const rss = peakRssMb(pid);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [cd, cw] = [median(rates[0]!), median(rates[1]!)];
    const tput = cw / cd;
    console.log(
      `cat of a ${(size / 1e6).toFixed(0)} MB file with emails (${CAT_ROUNDS} round${CAT_ROUNDS > 1 ? 's, median' : ''}):`,
    );
    console.log(`  direct ssh → sshd                  ${cd.toFixed(1).padStart(7)} MB/s`);
    console.log(
      `  ${`ssh → Warden (${process.env.SSH_BENCH_MASKING === '0' ? 'NO masking' : 'masked'}) → sshd`.padEnd(34)} ${cw.toFixed(1).padStart(7)} MB/s   (${(wardenBytes / 1e6).toFixed(0)} MB after masking; clear email seen: ${leaked})`,
    );
    console.log(`  Warden / direct: ${tput.toFixed(2)}× (goal ≥ 0.50×: ${tput >= 0.5 ? 'met' : 'NOT met'})`);
    console.log(
      `  gateway peak RSS ${rss.toFixed(0)} MB (before the cats: ${rssBefore.toFixed(0)} MB; goal < 200 MB: ${rss < 200 ? 'met' : 'NOT met'})`,
    );
  } finally {
    for (const k of kill) k();
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((r) => gateway!.once('exit', r));
      gateway.stdin!.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (gateway.exitCode === null) gateway.kill();
    }
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
