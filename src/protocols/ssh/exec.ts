// One exec request: decided as a `command` operation before anything reaches the target; a
// refusal is a message on stderr and exit status 126 (the connection stays usable); an allowed
// command runs on the target with stdin passed through and stdout/stderr masked on the way back.
import type { PseudoTtyOptions, ServerChannel } from 'ssh2';
import type { GatewaySession } from '../../gateway/index.js';
import type { OperationResult } from '../../gateway/session.js';
import { CommandOutput } from './output.js';
import { type RemoteCommand, type Upstream, UpstreamError } from './upstream.js';

export const REFUSED_STATUS = 126;
/** What ssh itself returns when it cannot reach the host. */
export const UNAVAILABLE_STATUS = 255;

/** The session's upstream login ended under it (the target went away): the session ends. */
export class TargetLost extends UpstreamError {
  override name = 'TargetLost';
}

const lostMessage = (name: string) => `target '${name}' closed the connection; the session ends`;

/** What upstream() answers once the target went away (handled: nobody may be waiting yet). */
export function targetLost(name: string): Promise<never> {
  const lost = Promise.reject(new TargetLost(lostMessage(name)));
  lost.catch(() => {});
  return lost;
}

/**
 * Whether the target's login is ending now. When the target goes away under a command (or just
 * before it), ssh2 fails the channel and closes the client in one turn: an exec that failed, or a
 * command that ended with no exit status, then ends the session rather than leave it on a dead login.
 */
function endingNow(u: Upstream): Promise<boolean> {
  return Promise.race([u.ended.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
}

export interface ExecContext {
  session: GatewaySession;
  upstream(): Promise<Upstream>;
  /** The session must end (identity expired or revoked). */
  terminate(reason: string): void;
}

export async function runExec(
  ctx: ExecContext,
  channel: ServerChannel,
  command: string,
  pty: PseudoTtyOptions | null,
): Promise<void> {
  const gone = new AbortController();
  channel.once('close', () => gone.abort());
  const verdict = await ctx.session.decide({ kind: 'command', text: command }, { signal: gone.signal });
  if (gone.signal.aborted) return;
  if (verdict.refusal) {
    finish(channel, `warden: ${verdict.refusal.message}\n`, REFUSED_STATUS);
    ctx.session.recordResult(verdict.op.id, { status: REFUSED_STATUS, error: verdict.refusal.message });
    if (verdict.terminate) ctx.terminate(verdict.refusal.message);
    return;
  }
  let run: RemoteCommand;
  let target: Upstream | undefined;
  try {
    target = await ctx.upstream();
    run = await target.exec(command, pty);
  } catch (err) {
    const lost = err instanceof TargetLost || (target !== undefined && (await endingNow(target)));
    const message = lost
      ? lostMessage(ctx.session.connection.name)
      : err instanceof UpstreamError
        ? err.message
        : 'the target could not run the command';
    finish(channel, `warden: ${message}\n`, UNAVAILABLE_STATUS);
    ctx.session.recordResult(verdict.op.id, { status: UNAVAILABLE_STATUS, error: message });
    if (lost) ctx.terminate(message);
    return;
  }
  const up = run.channel;
  if (gone.signal.aborted) {
    up.close();
    return;
  }
  const stdout = new CommandOutput(verdict.masker, (b) => channel.write(b));
  const stderr = new CommandOutput(verdict.masker, (b) => channel.stderr.write(b));
  // Backpressure: a full client window pauses the target's output until it drains.
  const relay = (out: CommandOutput) => (chunk: Buffer) => {
    if (!out.push(chunk)) {
      up.pause();
      channel.once('drain', () => up.resume());
    }
  };
  up.on('data', relay(stdout));
  up.stderr.on('data', relay(stderr));
  channel.pipe(up);
  channel.on('signal' as never, (name: string) => up.signal(name));
  await Promise.race([run.closed, new Promise((resolve) => channel.once('close', resolve))]);
  const status = run.exit?.code ?? null;
  const signal = run.exit?.signal;
  const clientGone = gone.signal.aborted;
  const lost = !clientGone && status === null && !signal && (await endingNow(target));
  const lostWhy = lostMessage(ctx.session.connection.name);
  if (!clientGone) {
    stdout.end();
    stderr.end();
    if (status !== null) channel.exit(status);
    else if (signal) channel.exit(signal, false, '');
    else if (lost) {
      channel.stderr.write(`warden: ${lostWhy}\n`);
      channel.exit(UNAVAILABLE_STATUS);
    }
    channel.end();
  } else up.close();
  const result: OperationResult = {
    output: stdout.recorded(),
    stderr: stderr.recorded(),
    bytes: stdout.sent + stderr.sent,
  };
  if (status !== null) result.status = status;
  if (signal) result.signal = signal;
  if (stdout.truncated || stderr.truncated) result.truncated = true;
  if (clientGone) result.error = 'client disconnected';
  if (lost) {
    result.status = UNAVAILABLE_STATUS;
    result.error = lostWhy;
  }
  ctx.session.recordResult(verdict.op.id, result);
  if (lost) ctx.terminate(lostWhy);
}

function finish(channel: ServerChannel, message: string, status: number): void {
  channel.stderr.write(message);
  channel.exit(status);
  channel.end();
}
