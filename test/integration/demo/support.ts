// Helpers for the demo suites: run a program to completion, and spawn a long-running CLI whose
// stdout is watched for a line.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const WARDEN_BIN = fileURLToPath(new URL('../../../bin/warden.js', import.meta.url));
export const PSQL = '/usr/bin/psql';

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runProgram(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  input = '',
): Promise<ProcResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** psql with no rc file, unaligned tuples-only output; the password (if any) from PGPASSWORD. */
export function psql(conninfo: string, sql: string, password?: string): Promise<ProcResult> {
  return runProgram(PSQL, ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, '-c', sql], psqlEnv(password));
}

/** psql reading a script from stdin. */
export function psqlScript(conninfo: string, script: string, password?: string): Promise<ProcResult> {
  return runProgram(PSQL, ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', conninfo], psqlEnv(password), script);
}

function psqlEnv(password: string | undefined): Record<string, string> {
  return {
    PGPASSFILE: '/dev/null',
    PGCONNECT_TIMEOUT: '10',
    ...(password === undefined ? {} : { PGPASSWORD: password }),
  };
}

export interface LongRunning {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with stdout once it matches `pattern`; rejects if the process exits first or on timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Send `signal` and resolve with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnWarden(args: string[], env: Record<string, string> = {}): LongRunning {
  const child = spawn(process.execPath, [WARDEN_BIN, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`timed out waiting for ${pattern}; stderr: ${err}`)),
          timeoutMs,
        );
        const check = () => {
          if (pattern.test(out)) finish();
        };
        const onExit = (code: number | null) =>
          finish(new Error(`exited with ${code} before ${pattern}; stderr: ${err}`));
        function finish(error?: Error) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.off('exit', onExit);
          if (error) reject(error);
          else resolve(out);
        }
        child.stdout.on('data', check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
