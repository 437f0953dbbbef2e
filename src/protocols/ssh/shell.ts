// A pty shell: a `session` `shell` operation on open, then each line decided when Enter is
// pressed. Keystrokes reach the host as typed (it echoes and edits the line); at Enter the line
// is read off a terminal emulator fed with the host's echo (./terminal-line.ts), and until it is
// decided nothing more reaches the host. A refused line is cleared on the host (Ctrl-E Ctrl-U,
// then an empty Enter for a fresh prompt) and the reason shown. Output is masked (idle flush so
// prompts and echo are not held) and recorded as asciicast after masking.
import type { PseudoTtyOptions, ServerChannel } from 'ssh2';
import type { GatewaySession } from '../../gateway/index.js';
import type { Masker } from '../../masking/index.js';
import { StreamMasker } from '../../masking/stream.js';
import { REFUSED_STATUS } from './exec.js';
import { TerminalLine } from './terminal-line.js';
import type { Upstream } from './upstream.js';
import { UpstreamError } from './upstream.js';

/** Output idle this long flushes the masker's held tail (typed echo, prompts). */
const IDLE_FLUSH_MS = 40;
/** At Enter, wait this long at most for the host's echo of what was typed before it. */
const ECHO_WAIT_MS = 300;
const CTRL_C = 0x03;
const CLEAR_LINE = '\x05\x15';

export interface ShellContext {
  session: GatewaySession;
  upstream(): Promise<Upstream>;
  terminate(reason: string): void;
  /** Window size changes of the client's pty. */
  onResize(listener: (size: WindowSize) => void): void;
}

export interface WindowSize {
  cols: number;
  rows: number;
  width: number;
  height: number;
}

export async function runShell(ctx: ShellContext, channel: ServerChannel, pty: PseudoTtyOptions): Promise<void> {
  const { session } = ctx;
  const gone = new AbortController();
  channel.once('close', () => gone.abort());
  const open = await session.decide(
    { kind: 'session', text: 'shell', session: { event: 'shell' } },
    { signal: gone.signal },
  );
  if (gone.signal.aborted) return;
  if (open.refusal) {
    channel.stderr.write(`warden: ${open.refusal.message}\r\n`);
    channel.exit(REFUSED_STATUS);
    channel.end();
    if (open.terminate) ctx.terminate(open.refusal.message);
    return;
  }
  let up: Awaited<ReturnType<Upstream['shell']>>;
  try {
    up = await (await ctx.upstream()).shell(pty);
  } catch (err) {
    const message = err instanceof UpstreamError ? err.message : 'the target could not open a shell';
    channel.stderr.write(`warden: ${message}\r\n`);
    channel.exit(255);
    channel.end();
    return;
  }
  const host = up.channel;
  const masker: Masker | null = open.masker ?? session.currentMasker;
  const screen = new TerminalLine(pty.cols ?? 80, pty.rows ?? 24);
  const out = new ShellOutput(masker, (text) => {
    channel.write(text);
    screen.write(text);
    session.recording.output(text);
  });
  host.on('data', (d: Buffer) => out.push(d.toString('utf8')));
  host.stderr.on('data', (d: Buffer) => out.push(d.toString('utf8')));

  const show = (text: string) => {
    out.flush();
    channel.write(text);
    screen.write(text);
    session.recording.output(text);
  };

  let deciding: AbortController | null = null;
  const queue: Buffer[] = [];
  // What was typed since the line began (control bytes dropped): the line to decide when the
  // host shows no echo of it (`stty -echo`, a late echo), so no typed line passes undecided.
  let typed = '';
  let echoFrom = 0;
  const forward = (bytes: Buffer) => {
    if (bytes.length === 0) return;
    screen.beginLine();
    typed += bytes.toString('utf8').replace(/[\x00-\x1f\x7f]|\x1b\[[0-9;]*[A-Za-z]/g, '');
    echoFrom = out.received;
    host.write(bytes);
  };
  const pump = async () => {
    while (queue.length > 0 && deciding === null) {
      const chunk = queue.shift()!;
      const enter = chunk.findIndex((b) => b === 0x0d || b === 0x0a);
      if (enter === -1) {
        forward(chunk);
        continue;
      }
      forward(chunk.subarray(0, enter));
      const rest = chunk.subarray(enter + 1);
      if (rest.length > 0) queue.unshift(rest);
      deciding = new AbortController();
      const stop = deciding;
      await echoed(screen, out, typed.length > 0 ? echoFrom : -1);
      const shown = screen.takeLine();
      const line = shown === '' ? typed.trim() : shown;
      typed = '';
      if (line === '') {
        deciding = null;
        host.write(chunk.subarray(enter, enter + 1));
        continue;
      }
      const verdict = await session.decide({ kind: 'command', text: line }, { signal: stop.signal });
      deciding = null;
      if (gone.signal.aborted) return;
      if (stop.signal.aborted) {
        // Ctrl-C during a hold: the line is dropped, the host clears it.
        queue.length = 0;
        show(`\r\nwarden: the wait for review ended (Ctrl-C)\r\n`);
        host.write(Buffer.from([CTRL_C]));
        continue;
      }
      if (verdict.refusal) {
        host.write(CLEAR_LINE);
        show(`\r\nwarden: ${verdict.refusal.message}\r\n`);
        if (verdict.terminate) {
          ctx.terminate(verdict.refusal.message);
          return;
        }
        host.write('\r');
        continue;
      }
      host.write(chunk.subarray(enter, enter + 1));
    }
  };
  channel.on('data', (d: Buffer) => {
    if (deciding && d.includes(CTRL_C)) {
      deciding.abort();
      return;
    }
    queue.push(d);
    pump().catch(() => channel.destroy());
  });
  ctx.onResize((info) => {
    host.setWindow(info.rows, info.cols, info.height, info.width);
    screen.resize(info.cols, info.rows);
    session.recording.resize(info.cols, info.rows);
  });
  channel.on('end', () => host.end());
  await Promise.race([up.closed, new Promise((r) => channel.once('close', r))]);
  out.flush();
  out.stop();
  screen.dispose();
  if (!gone.signal.aborted) {
    if (up.exit?.code != null) channel.exit(up.exit.code);
    channel.end();
  } else host.close();
}

/**
 * Waits (bounded) for the host's echo of the last keys typed (output past `from`; -1: nothing was
 * typed) and then for the output to go quiet, so the line is read off a settled screen.
 */
async function echoed(screen: TerminalLine, out: ShellOutput, from: number): Promise<void> {
  const until = Date.now() + ECHO_WAIT_MS;
  let seen = -1;
  for (;;) {
    out.flush();
    await screen.settled();
    const echoArrived = from === -1 || out.received > from;
    if ((echoArrived && out.received === seen) || Date.now() > until) return;
    seen = out.received;
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Terminal output, masked with a held window flushed when the output goes idle. */
class ShellOutput {
  private readonly stream: StreamMasker | null;
  private timer: NodeJS.Timeout | undefined;
  received = 0;

  constructor(
    masker: Masker | null,
    private readonly emit: (text: string) => void,
  ) {
    this.stream = masker?.detects ? new StreamMasker(masker) : null;
  }

  push(text: string): void {
    this.received += text.length;
    if (!this.stream) {
      this.emit(text);
      return;
    }
    const now = this.stream.push(text);
    if (now.length > 0) this.emit(now);
    clearTimeout(this.timer);
    if (this.stream.pending > 0) this.timer = setTimeout(() => this.flush(), IDLE_FLUSH_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    if (!this.stream) return;
    const held = this.stream.flush();
    if (held.length > 0) this.emit(held);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
