// A fake protocol engine, to show what adding an adapter takes: this folder and one
// registerProtocol() line. "lines" is a line protocol: the first line is `<connection> <token>`,
// every later line is one command operation, forwarded to a real TCP target (the test's own
// server) when allowed, answered `ERR <message>` when refused, masked by the core's masker.
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { GatewaySession, SessionProtocol } from '../../../src/gateway/index.js';
import { commonConnectionFields } from '../../../src/protocols/connection-common.js';
import type { ClientStream, EngineHost, EngineInstance, ProtocolEngine } from '../../../src/protocols/index.js';
import type { Admission } from '../../../src/protocols/limits.js';

export const linesConnectionSchema = z.strictObject({
  type: z.literal('lines'),
  ...commonConnectionFields,
  port: z.number().int().min(1).max(65535),
});

class LinesDoor implements EngineInstance {
  private readonly sessions = new Set<{ session: GatewaySession; socket: ClientStream }>();
  constructor(private readonly host: EngineHost) {}

  refusal(message: string): Buffer {
    return Buffer.from(`ERR ${message}\n`);
  }

  async serve(socket: ClientStream, admission: Admission): Promise<void> {
    const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
    socket.resume();
    const first = await lines.next();
    if (first.done) return void socket.destroy();
    admission.handshakeDone();
    const [connection = '', token = ''] = String(first.value).split(' ');
    let session: GatewaySession;
    try {
      session = await this.host.openSession({ protocol: 'lines' as SessionProtocol, connection, token });
    } catch (err) {
      socket.end(`ERR ${(err as Error).message}\n`);
      return;
    }
    admission.authenticated();
    const conn = this.host.connection(connection) as unknown as { port: number };
    const entry = { session, socket };
    this.sessions.add(entry);
    socket.write('OK\n');
    try {
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const line = String(next.value);
        const verdict = await session.decide({ kind: 'command', text: line });
        if (verdict.refusal) {
          socket.write(`ERR ${verdict.refusal.message}\n`);
          if (verdict.terminate) break;
          continue;
        }
        const answer = await ask(conn.port, line);
        socket.write(`${verdict.masker ? verdict.masker.maskText(answer) : answer}\n`);
        session.recordResult(verdict.op.id, { output: answer.length > 0 ? '(output)' : '' });
      }
    } finally {
      this.sessions.delete(entry);
      socket.end();
      await session.close();
    }
  }

  async close(reason: string): Promise<void> {
    for (const { session, socket } of this.sessions) {
      socket.end(`ERR ${reason}\n`);
      await session.close(reason);
    }
  }
}

/** One line to the target, its one-line answer back. */
function ask(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`${line}\n`));
    let data = '';
    s.on('data', (d) => {
      data += d;
      const i = data.indexOf('\n');
      if (i >= 0) {
        resolve(data.slice(0, i));
        s.destroy();
      }
    });
    s.on('error', reject);
  });
}

export const linesEngine: ProtocolEngine = { name: 'lines', create: (host) => new LinesDoor(host) };
