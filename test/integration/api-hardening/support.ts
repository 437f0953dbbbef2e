// Shared by the API hardening tests: psql through the gateway's PostgreSQL front door with
// client-side timing, curl, and raw HTTP over node:net (to send exactly the bytes we mean).
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';

/** A long-lived psql with `\timing on`: each `select 1` reports its round trip through the gateway. */
export class TimedPsql {
  private readonly child: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private readonly exited: Promise<number | null>;

  constructor(pgPort: number, token: string) {
    this.child = spawn(
      '/usr/bin/psql',
      ['-X', '-A', '-t', '-q', '-d', `host=127.0.0.1 port=${pgPort} dbname=shop user=agent sslmode=disable`],
      { env: { ...process.env, PGPASSWORD: token }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => {
      this.out += d;
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.err += d;
    });
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
    this.child.stdin.write('\\timing on\n');
  }

  /** Run `select <n>` and resolve with psql's own "Time: … ms" for it. */
  async select(n: number): Promise<number> {
    const mark = `Time: `;
    const before = this.times().length;
    this.child.stdin.write(`select ${n};\n`);
    const end = Date.now() + 60_000;
    for (;;) {
      const t = this.times();
      if (t.length > before) {
        // Unaligned, tuples only: the row is the line right before its "Time:" line; nothing follows
        // that until the next query, so it is the last line.
        const row = this.out.trimEnd().split('\n').at(-2);
        if (row !== String(n)) throw new Error(`psql answered ${row} for select ${n}: ${this.out.slice(-200)}`);
        return t[t.length - 1] as number;
      }
      if (Date.now() > end) throw new Error(`psql did not answer (${mark}); stderr=${this.err}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  private times(): number[] {
    return [...this.out.matchAll(/^Time: ([\d.]+) ms/gm)].map((m) => Number(m[1]));
  }

  get stderr(): string {
    return this.err;
  }

  async close(): Promise<void> {
    this.child.stdin.end('\\q\n');
    await this.exited;
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] as number;
}

export function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from the first byte sent to the status line received. */
  ms: number;
}

/**
 * Send `head` (request line + headers, without the final CRLF CRLF) and then `body`, and resolve
 * with the response. With `holdBack`, only that many body bytes are sent before waiting for the
 * response: a server that answers has not seen (so not parsed) the rest.
 */
export function rawRequest(
  port: number,
  head: string,
  body: Buffer = Buffer.alloc(0),
  opts: { holdBack?: number; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const started = Date.now();
    let got = Buffer.alloc(0);
    let firstByteMs = -1;
    // A guard against hanging on a server that waits for the held-back bytes, not a latency bound.
    const guardMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete response in ${guardMs} ms: ${got.toString('latin1').slice(0, 200)}`));
    }, guardMs);
    const finish = () => {
      clearTimeout(timer);
      const text = got.toString('utf8');
      const i = text.indexOf('\r\n\r\n');
      if (i < 0) return reject(new Error(`no response: ${text.slice(0, 200)}`));
      const [statusLine, ...lines] = text.slice(0, i).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const j = l.indexOf(':');
        headers[l.slice(0, j).trim().toLowerCase()] = l.slice(j + 1).trim();
      }
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body: text.slice(i + 4), ms: firstByteMs });
    };
    sock.on('data', (d: Buffer) => {
      if (firstByteMs < 0) firstByteMs = Date.now() - started;
      got = Buffer.concat([got, d]);
      // Done once headers and a Content-Length worth of body are in.
      const text = got.toString('latin1');
      const i = text.indexOf('\r\n\r\n');
      if (i >= 0) {
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, i));
        if (m && got.length >= i + 4 + Number(m[1])) {
          sock.destroy();
          finish();
        }
      }
    });
    sock.on('error', () => {}); // a server that closes on us mid-upload: the response is what counts
    sock.on('close', () => {
      if (got.length > 0) finish();
    });
    sock.on('connect', () => {
      sock.write(`${head}\r\n\r\n`);
      const sent = opts.holdBack === undefined ? body : body.subarray(0, opts.holdBack);
      if (sent.length) sock.write(sent);
    });
  });
}
