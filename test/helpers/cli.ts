// Runs the real `warden` binary as a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const WARDEN_BIN = fileURLToPath(new URL('../../bin/warden.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runWarden(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WARDEN_BIN, ...args], {
      env: {
        ...process.env,
        ...opts.env,
        WARDEN_GATEWAY: opts.env?.WARDEN_GATEWAY ?? '',
        NO_COLOR: '1',
        WARDEN_QUIET_SOURCE: '1',
      },
      cwd: opts.cwd ?? process.cwd(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** `warden start -c CONFIG` as a child process, resolved once it says it started. */
export function startWardenProcess(config: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WARDEN_BIN, 'start', '-c', config], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise<ChildProcess>((resolve, reject) => {
    const check = (d: Buffer) => {
      out += d;
      if (/warden started/.test(out)) resolve(child);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`warden start exited ${code}: ${out}`)));
  });
}
