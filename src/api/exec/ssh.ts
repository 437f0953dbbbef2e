// REST `exec` (and `warden exec web-1 -- uname -a`, MCP `run_command`) on an SSH connection: the
// command runs through the SSH engine in-process, over an in-memory stream on which this side is a
// real SSH client (ssh2), for the identity the API verified — so it is decided on its parsed
// programs, masked, recorded and audited by the one exec path, exactly as `ssh web-1 CMD`.

import { isWardenError, WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import type { VerdictReport } from '../../gateway/verdict.js';
import { ssh2 } from '../../protocols/ssh/ssh2-module.js';
import { canSee } from '../visibility.js';
import { openInProcess } from './in-process.js';
import type { ExecOutcome, ExecRequest } from './index.js';

/** Bytes of stdout (and of stderr) returned; past it the command is stopped, as `| head -c` would. */
export const MAX_OUTPUT = 1024 * 1024;
/** What the SSH front door answers a refused command with (DESIGN §5). */
export const REFUSED_STATUS = 126;
/** What ssh returns when the target could not be reached. */
const UNAVAILABLE_STATUS = 255;
const READY_TIMEOUT_MS = 15_000;

export interface CommandRun {
  /** The command's exit status; null when it ended by a signal or was stopped. */
  exitStatus: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  /** Output went past MAX_OUTPUT: the command was stopped there. */
  truncated: boolean;
  verdicts: VerdictReport[];
}

/** One command through the SSH engine in-process, as `identity` (`caller`: api or mcp). */
export async function runCommandInProcess(
  gw: Gateway,
  identity: Identity,
  connection: string,
  command: string,
  caller: 'api' | 'mcp',
  signal?: AbortSignal,
): Promise<CommandRun> {
  const conf = gw.connectionConfig(connection);
  if (conf && conf.type !== 'ssh')
    throw new WardenError(
      'WARDEN_USAGE',
      `connection '${connection}' is a ${conf.type} connection; commands run on ssh connections`,
    );
  const { stream, verdicts, refused } = openInProcess(gw, 'ssh', 'SSH', identity, connection, caller);
  const client = new (ssh2().Client)();
  try {
    const run = await new Promise<Omit<CommandRun, 'verdicts'>>((resolve, reject) => {
      const out = new Capped();
      const err = new Capped();
      let exit: { code: number | null; signal?: string } | null = null;
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        reject(e);
      };
      signal?.addEventListener('abort', () => fail(new WardenError('WARDEN_USAGE', 'the caller went away')), {
        once: true,
      });
      client.on('error', (e) => fail(e));
      client.on('close', () => fail(new Error('the SSH engine closed the in-process connection')));
      client.on('ready', () => {
        client.exec(command, (e, ch) => {
          if (e) return fail(e);
          // No stdin: a command that reads it sees end of file at once.
          ch.end();
          const stop = () => ch.close();
          ch.on('data', (d: Buffer) => out.push(d, stop));
          ch.stderr.on('data', (d: Buffer) => err.push(d, stop));
          ch.on('exit', (code: number | null, sig?: string) => {
            exit = sig ? { code: null, signal: sig } : { code };
          });
          ch.on('close', () => {
            settled = true;
            const truncated = out.truncated || err.truncated;
            const e2 = exit as { code: number | null; signal?: string } | null;
            resolve({
              exitStatus: truncated ? null : (e2?.code ?? null),
              ...(e2?.signal && !truncated ? { signal: e2.signal } : {}),
              stdout: out.text(),
              stderr: err.text(),
              truncated,
            });
          });
        });
      });
      client.connect({
        sock: stream as never,
        username: connection,
        readyTimeout: READY_TIMEOUT_MS,
        // The other end is this process's own SSH engine, over memory: no host to verify.
        hostVerifier: () => true,
      });
    });
    sessionRefusal(gw, identity, connection, refused());
    return { ...run, verdicts };
  } catch (err) {
    sessionRefusal(gw, identity, connection, refused());
    if (isWardenError(err)) throw err;
    gw.logger.warn({ err, connection }, 'in-process ssh exec failed');
    throw new WardenError('WARDEN_TARGET_UNAVAILABLE', `the command could not be run on '${connection}'`);
  } finally {
    client.end();
    stream.destroy();
  }
}

/**
 * The session was never opened (no grant, unknown connection, limits): the core's refusal, as the
 * API's own error (not as a command's exit 126); a connection the caller cannot see stays unknown.
 */
function sessionRefusal(gw: Gateway, identity: Identity, connection: string, refused: unknown): void {
  if (refused === undefined || !isWardenError(refused)) return;
  if (refused.code === 'WARDEN_ACCESS_DENIED' && !canSee(gw, identity, connection))
    throw new WardenError('WARDEN_CONNECTION_UNKNOWN', `no connection named '${connection}'`);
  throw refused;
}

/** The first MAX_OUTPUT bytes of one output stream; past them the command is stopped. */
class Capped {
  private readonly parts: Buffer[] = [];
  private bytes = 0;
  truncated = false;

  push(chunk: Buffer, stop: () => void): void {
    if (this.truncated) return;
    const room = MAX_OUTPUT - this.bytes;
    if (chunk.length > room) {
      this.parts.push(chunk.subarray(0, room));
      this.bytes = MAX_OUTPUT;
      this.truncated = true;
      stop();
      return;
    }
    this.parts.push(chunk);
    this.bytes += chunk.length;
  }

  text(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }
}

export async function sshExec(gw: Gateway, identity: Identity, req: ExecRequest): Promise<ExecOutcome> {
  return commandOutcome(await runCommandInProcess(gw, identity, req.connection, req.input, 'api'));
}

/** The Verdict the session enforced and what the command printed, as an ExecResult. */
export function commandOutcome(run: CommandRun): ExecOutcome {
  const v = run.verdicts.find((r) => r.kind === 'command') ?? run.verdicts.at(-1);
  const refusedBy = v && (v.effect === 'block' || v.effect === 'review') ? v : undefined;
  const out = {
    outcome: refusedBy
      ? refusedBy.effect === 'review'
        ? 'review'
        : 'blocked'
      : !v || run.exitStatus !== 0
        ? 'error'
        : 'ok',
    effect: v?.effect ?? 'block',
    rules: v?.rules ?? [],
    exitStatus: refusedBy ? REFUSED_STATUS : run.exitStatus,
    stdout: run.stdout,
    stderr: run.stderr,
  } as ExecOutcome & Record<string, unknown>;
  if (run.signal) out.signal = run.signal;
  if (run.truncated) out.truncated = true;
  if (v) out.operation = v.op;
  if (v?.reviewId) out.reviewId = v.reviewId;
  if (v?.approvers && refusedBy?.effect === 'review') out.approvers = v.approvers;
  if (v?.terminate) out.sessionEnded = true;
  if (refusedBy?.message) out.message = refusedBy.message;
  else if (out.outcome === 'error') out.message = errorMessage(run);
  return out;
}

function errorMessage(run: CommandRun): string {
  if (run.truncated) return `the output passed ${MAX_OUTPUT} bytes: the command was stopped`;
  // The gateway's own words (target down, wrong host key) are the first stderr line, as for ssh.
  const said = /^warden: (.+)$/m.exec(run.stderr)?.[1];
  if (run.exitStatus === UNAVAILABLE_STATUS && said) return said;
  if (run.exitStatus === null) return run.signal ? `the command ended by signal ${run.signal}` : 'the command ended';
  return `exit status ${run.exitStatus}`;
}
