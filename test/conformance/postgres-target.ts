// The PostgreSQL engine's conformance fixture: a real PostgreSQL 15 with the shop sample and four
// counter tables, the gateway in front of it (test/helpers/gateway.ts), and sessions spoken in
// raw v3 frames, so every outcome is exactly what the wire carried.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '../../src/gateway/index.js';
import {
  BackendCode,
  writeBind,
  writeDescribe,
  writeExecute,
  writeParse,
  writeStartupMessage,
  writeSync,
} from '../../src/protocols/postgres/wire/index.js';
import { startShopPostgres, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { runSql, type TestPostgres } from '../helpers/postgres.js';
import { type Summary, summarize, WireClient } from '../helpers/wire-client.js';
import { errorFields, RawClient } from '../integration/postgres/support.js';
import { failOperationAudits } from './control.js';
import type {
  ClientSession,
  ConformanceTarget,
  Connected,
  CountedOperation,
  OperationName,
  Outcome,
  Prepared,
  Refusal,
  StartedGateway,
} from './target.js';

const SECRET_SELECT = 'SELECT email, ssn, card_number, phone FROM customers ORDER BY id';

const DOWN_PASSWORD = 'nothing-listens-here';
const PLAIN_SECRETS = { ssn: 'conformance-ssn-kq', card: 'conformance-card-kq' };

const COUNTER_TABLES: Record<CountedOperation, string> = {
  allowedWrite: 'write_log',
  blockedOp: 'block_log',
  reviewOp: 'review_log',
  holdOp: 'hold_log',
};

const SQL: Record<Exclude<OperationName, 'driftShape' | 'driftTarget' | 'driftStatement'>, string> = {
  allowedRead: 'SELECT name FROM customers WHERE id = 1',
  maskedRead: `SELECT name, email, ssn, card_number, phone FROM customers ORDER BY id LIMIT 5`,
  allowedWrite: "INSERT INTO write_log (note) VALUES ('allowed')",
  blockedOp: "INSERT INTO block_log (note) VALUES ('blocked')",
  reviewOp: "INSERT INTO review_log (note) VALUES ('reviewed')",
  holdOp: "INSERT INTO hold_log (note) VALUES ('held')",
};

/** A CEL condition: the statement touches `table` (analysis keeps the schema when one is written). */
const touches = (table: string) =>
  `op.kind == 'sql' && op.sql.tables.exists(t, t == '${table}' || t == 'public.${table}')`;

function refusalOf(e: { code?: string; message?: string }): Refusal {
  const code = e.code ?? '';
  const message = e.message ?? '';
  if (code === '28000') return { kind: 'identity', code, message };
  if (code === '42501') {
    const review = /^approval required: review (\S+?)[;,\s]/.exec(message);
    if (review) return { kind: 'review', code, message, reviewId: review[1] as string };
    if (/^(blocked|session ended)/.test(message)) return { kind: 'blocked', code, message };
  }
  return { kind: 'error', code, message };
}

function outcomeOf(s: Summary & { closed: boolean }): Outcome {
  const err = s.errors[0];
  return {
    ok: err === undefined,
    rows: s.rows,
    ...(err ? { refused: refusalOf(err) } : {}),
    sessionEnded: s.closed,
  };
}

let sessionSeq = 0;

class PostgresSession implements ClientSession {
  private statements = 0;

  constructor(
    private readonly c: WireClient,
    private readonly appName: string,
    private readonly target: TestPostgres,
  ) {}

  async run(op: OperationName, opts: { timeoutMs?: number } = {}): Promise<Outcome> {
    if (op === 'driftShape') return this.drift('select true, true, true, true', SECRET_SELECT);
    if (op === 'driftStatement') return this.drift('select 1', SQL.blockedOp);
    if (op === 'driftTarget') return this.driftTarget();
    return this.query(SQL[op], opts.timeoutMs);
  }

  private async query(text: string, timeoutMs = 15_000): Promise<Outcome> {
    if (this.c.closed) return { ok: false, ...this.leftover(), sessionEnded: true };
    return outcomeOf(await this.c.query(text, timeoutMs));
  }

  /** What arrived while no operation was running (a FATAL before the socket closed). */
  private leftover(): Pick<Outcome, 'refused'> {
    const s = summarize(this.c.take());
    return s.errors[0] ? { refused: refusalOf(s.errors[0]) } : {};
  }

  /**
   * The gateway sees a harmless named statement (Parse + Describe); SQL then redefines that name
   * (DEALLOCATE + PREPARE), and the client executes the name through the protocol.
   */
  private async drift(harmless: string, swapped: string): Promise<Outcome> {
    const name = `drift_${++this.statements}`;
    this.c.send((w) => {
      writeParse(w, name, harmless);
      writeDescribe(w, 'S', name);
      writeSync(w);
    });
    const described = outcomeOf({ ...summarize(await this.c.untilReady()), closed: this.c.closed });
    if (!described.ok) return described;
    // Refused or not, the swap's own outcome does not matter: the execution is what is judged.
    await this.query(`DEALLOCATE ${name}; PREPARE ${name} AS ${swapped}`);
    return this.bindExecute(name);
  }

  /**
   * A view the client prepared and described is replaced, with the same column names and types,
   * by the target's owner on a direct connection; PostgreSQL re-plans the statement at Bind.
   */
  private async driftTarget(): Promise<Outcome> {
    const view = `drift_view_${process.pid}_${++this.statements}`;
    await runSql(this.target.url, `CREATE VIEW ${view} AS SELECT 'x'::text AS a, 'y'::text AS b FROM customers`);
    const name = `dv_${this.statements}`;
    this.c.send((w) => {
      writeParse(w, name, `SELECT a, b FROM ${view}`);
      writeDescribe(w, 'S', name);
      writeSync(w);
    });
    const described = outcomeOf({ ...summarize(await this.c.untilReady()), closed: this.c.closed });
    if (!described.ok) return described;
    await runSql(this.target.url, `CREATE OR REPLACE VIEW ${view} AS SELECT email AS a, ssn AS b FROM customers`);
    return this.bindExecute(name);
  }

  private async bindExecute(statement: string): Promise<Outcome> {
    if (this.c.closed) return { ok: false, ...this.leftover(), sessionEnded: true };
    this.c.send((w) => {
      writeBind(w, { portal: '', statement });
      writeExecute(w);
      writeSync(w);
    });
    const msgs = await this.c.untilReady(1, 15_000);
    return outcomeOf({ ...summarize(msgs), closed: msgs.closed });
  }

  async prepare(op: OperationName): Promise<Prepared> {
    if (op === 'driftShape' || op === 'driftTarget' || op === 'driftStatement')
      throw new Error(`${op} has no prepared form`);
    const name = `p_${++this.statements}`;
    this.c.send((w) => {
      writeParse(w, name, SQL[op]);
      writeSync(w);
    });
    const msgs = await this.c.untilReady();
    const outcome = outcomeOf({ ...summarize(msgs), closed: msgs.closed });
    return { op, outcome, handle: name };
  }

  execute(handle: Prepared): Promise<Outcome> {
    return this.bindExecute(handle.handle);
  }

  async malformed(): Promise<Outcome> {
    // 'z' is no frontend message type.
    this.c.write(Buffer.from([0x7a, 0, 0, 0, 4]));
    const msgs = await this.c.untilReady(1, 10_000);
    return outcomeOf({ ...summarize(msgs), closed: msgs.closed });
  }

  async loseTarget(): Promise<void> {
    const rows = await runSql(
      this.target.superuserUrl,
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [this.appName],
    );
    if (rows[0]?.n !== 1) throw new Error(`expected one backend named ${this.appName}, found ${String(rows[0]?.n)}`);
    // The FATAL the server sends travels through the gateway; wait for the socket to close.
    await this.c.waitClosed(10_000);
  }

  async close(): Promise<void> {
    if (this.c.closed) return;
    this.c.write(Buffer.from([0x58, 0, 0, 0, 4])); // Terminate
    await this.c.waitClosed(5_000).catch(() => this.c.destroy());
  }
}

export function postgresTarget(): ConformanceTarget {
  let pg: TestPostgres | undefined;
  let gw: TestGateway | undefined;
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the PostgreSQL conformance target is not started');
    return v;
  };

  return {
    name: 'postgres',
    connection: 'shop',
    downConnection: 'down',
    prepares: true,
    get targetCredentials() {
      return [DOWN_PASSWORD, ...(pg ? [pg.password] : [])];
    },
    conditions: {
      block: touches('block_log'),
      review: touches('review_log'),
      hold: touches('hold_log'),
    },
    maskColumns: ['email', 'phone', 'ssn', 'card_number'],
    codes: {
      blocked: '42501',
      review: '42501',
      identity: '28000',
      targetDown: '08006',
      malformed: '08P01',
      preAuthTooLarge: '08P01',
      handshakeTimeout: '08P01',
      tooManySessions: '53300',
    },
    expected: { allowedRows: [['Ada Lovelace']] },
    async start({ policy }): Promise<StartedGateway> {
      pg = await startShopPostgres();
      await runSql(
        pg.url,
        Object.values(COUNTER_TABLES)
          .map((t) => `CREATE TABLE ${t} (id serial PRIMARY KEY, note text);`)
          .join('\n'),
      );
      // Secrets no content detector recognises: only masking by source column hides them.
      await runSql(
        pg.url,
        `UPDATE customers SET ssn = '${PLAIN_SECRETS.ssn}' WHERE id = 1;
         UPDATE customers SET card_number = '${PLAIN_SECRETS.card}' WHERE id = 2;`,
      );
      const closedPort = await freePort();
      gw = await startTestGateway(pg, {
        policy,
        // Continues the `connections:` map after `shop`.
        extraYaml: `  down:
    type: postgres
    host: 127.0.0.1
    port: ${closedPort}
    database: shop
    user: app
    password: ${DOWN_PASSWORD}
    tls: disable
`,
      });
      return { apiUrl: gw.apiUrl, recordingsDir: join(gw.dir, 'recordings') };
    },

    token: (sub, groups, ttlMs) => need(gw).token(sub, groups, ttlMs),

    async connect(token, opts = {}): Promise<Connected> {
      const appName = `conformance-${process.pid}-${++sessionSeq}`;
      try {
        const c = await WireClient.gateway(need(gw).pgPort, token, {
          database: opts.connection ?? 'shop',
          params: { application_name: appName },
        });
        return { session: new PostgresSession(c, appName, need(pg)) };
      } catch (e) {
        const err = e as { code?: string; message?: string };
        if (!err.code) throw e;
        return {
          refused: refusalOf({ code: err.code, message: (err.message ?? '').replace(/^login refused: \S+ /, '') }),
        };
      }
    },

    async secrets() {
      const rows = await runSql(need(pg).url, SECRET_SELECT);
      return rows.flatMap((r) => Object.values(r).filter((v): v is string => typeof v === 'string'));
    },

    async effects(op) {
      const rows = await runSql(need(pg).url, `SELECT count(*)::int AS n FROM ${COUNTER_TABLES[op]}`);
      return rows[0]?.n as number;
    },

    async oversizedPreAuth() {
      const c = await RawClient.connect(need(gw).pgPort);
      try {
        c.write(writeStartupMessage(c.w, { user: 'agent', database: 'shop' }).flush());
        await c.waitFor((m) => m.code === BackendCode.Authentication);
        // A password message announcing 16 MiB (the token is a few KiB at most).
        const announcedBytes = 16 * 1024 * 1024;
        const head = Buffer.alloc(5);
        head[0] = 0x70;
        head.writeInt32BE(announcedBytes + 4, 1);
        c.write(head);
        const chunk = randomBytes(64 * 1024);
        let sentBytes = 0;
        const answered = () => c.closed || c.messages.some((m) => m.code === BackendCode.ErrorResponse);
        while (sentBytes < announcedBytes && !answered()) {
          const flushed = c.socket.write(chunk);
          sentBytes += chunk.length;
          if (!flushed) {
            await new Promise<void>((resolve) => {
              const done = () => {
                c.socket.off('drain', done);
                c.socket.off('close', done);
                resolve();
              };
              c.socket.once('drain', done);
              c.socket.once('close', done);
            });
          }
        }
        const err = await c.waitFor((m) => m.code === BackendCode.ErrorResponse, 10_000).catch(() => undefined);
        const closed = await c.waitClosed(10_000).then(
          () => true,
          () => false,
        );
        return { ...(err ? { refused: refusalOf(errorFields(err)) } : {}), closed, announcedBytes, sentBytes };
      } finally {
        c.destroy();
      }
    },

    async idleHandshake() {
      const opened = Date.now();
      const c = await RawClient.connect(need(gw).pgPort);
      try {
        await c.waitClosed(15_000);
        const closedAfterMs = Date.now() - opened;
        const err = c.messages.find((m) => m.code === BackendCode.ErrorResponse);
        return { ...(err ? { refused: refusalOf(errorFields(err)) } : {}), closedAfterMs };
      } finally {
        c.destroy();
      }
    },

    failAudit: () => failOperationAudits(need(gw).running.gateway.audit),

    async stop() {
      await gw?.stop();
      await pg?.stop();
      gw = undefined;
      pg = undefined;
    },
  };
}
