// A node-postgres client on an in-memory stream into the PostgreSQL engine, serving a session
// for the identity the API already verified. REST `exec` and MCP `query` use it, so their SQL
// takes exactly the adapter's path (analysis, decision, review, masking, recording, audit), and
// each Verdict the session enforces comes back as data: what they report is what was enforced.
import type pg from 'pg';
import { isWardenError, WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import type { VerdictReport } from '../../gateway/verdict.js';
import { pgDriver } from '../../store/pg-driver.js';
import { canSee } from '../visibility.js';

// OIDs whose pg parsers give faithful JSON values; everything else stays as the text the gateway
// sent (timestamps keep their zone, numerics their precision, masked text its shape).
const PARSED_OIDS = new Set([16, 20, 21, 23, 26, 114, 700, 701, 3802]); // bool int8 int2 int4 oid json float4 float8 jsonb
const INT8_OID = 20;

const wireTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (v: string) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);
    if (PARSED_OIDS.has(oid)) return pgDriver().types.getTypeParser(oid, format ?? 'text');
    return (v: string) => v;
  },
} as unknown as pg.CustomTypesConfig;

/** Which door the client is: the session's protocol and `application_name` on the target. */
export type FrontDoorCaller = 'api' | 'mcp';

/** A session through the PostgreSQL engine, and the verdicts it enforced. */
export class FrontDoorClient {
  private collector: VerdictReport[] | null = null;
  private last: Promise<unknown> = Promise.resolve();

  constructor(readonly client: pg.Client) {}

  /** @internal the session's verdict observer */
  readonly observe = (report: VerdictReport): void => {
    this.collector?.push(report);
  };

  /**
   * Run `fn` (one query) alone on this client and return what it gave plus the verdicts the
   * session enforced meanwhile. Calls are serialised, so verdicts never mix between queries.
   */
  exclusive<T>(fn: (client: pg.Client) => Promise<T>): Promise<{ value: T; verdicts: VerdictReport[] }> {
    const run = this.last.then(async () => {
      const verdicts: VerdictReport[] = [];
      this.collector = verdicts;
      try {
        return { value: await fn(this.client), verdicts };
      } catch (err) {
        throw Object.assign(new QueryFailed(err), { verdicts });
      } finally {
        this.collector = null;
      }
    });
    this.last = run.catch(() => {});
    return run;
  }

  end(): Promise<void> {
    return this.client.end().catch(() => {});
  }
}

/** A query that failed (refused by the gateway or by the target), with the verdicts meanwhile. */
export class QueryFailed extends Error {
  verdicts: VerdictReport[] = [];
  constructor(readonly error: unknown) {
    super('query failed');
  }
}

/**
 * Open a session through the PostgreSQL engine for an identity the caller verified. Refusals at
 * open (no access grant, unknown connection, limits) are the gateway's own WardenErrors.
 */
export async function connectFrontDoor(
  gw: Gateway,
  identity: Identity,
  connection: string,
  caller: FrontDoorCaller,
): Promise<FrontDoorClient> {
  const conn = gw.connectionConfig(connection);
  if (!conn) throw unknownConnection(connection);
  if (conn.type !== 'postgres') {
    throw new WardenError(
      'WARDEN_USAGE',
      `connection '${connection}' is a ${conn.type} connection; SQL runs on postgres connections`,
    );
  }
  const serve = gw.inProcessDoors.get('postgres');
  if (!serve) throw new WardenError('WARDEN_TARGET_UNAVAILABLE', 'the PostgreSQL engine is not running');
  let refused: unknown;
  let door: FrontDoorClient | undefined;
  const onVerdict = (r: VerdictReport) => door?.observe(r);
  const stream = serve({ identity, connection, caller, onVerdict, onRefused: (err) => (refused = err) });
  // node-postgres "connects" its stream itself; an in-memory one is connected already.
  const duplex = Object.assign(stream, {
    connect() {
      process.nextTick(() => stream.emit('connect'));
      return stream;
    },
    setNoDelay: () => stream,
    setKeepAlive: () => stream,
    ref: () => stream,
    unref: () => stream,
  });
  const client = new (pgDriver().Client)({
    stream: () => duplex as never,
    user: `warden-${caller}`,
    // Not a credential: the identity is the one given to the engine above.
    password: 'in-process',
    database: connection,
    ssl: false,
    types: wireTypes,
    connectionTimeoutMillis: 15_000,
  });
  door = new FrontDoorClient(client);
  // A stream error surfaces in the pending query; the listener keeps it from crashing the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    const e = refused !== undefined && isWardenError(refused) ? refused : connectError(err, connection);
    // Refused and audited; a connection the caller could not even request stays invisible.
    if (e.code === 'WARDEN_ACCESS_DENIED' && !canSee(gw, identity, connection)) throw unknownConnection(connection);
    throw e;
  }
  return door;
}

function unknownConnection(connection: string): WardenError {
  return new WardenError('WARDEN_CONNECTION_UNKNOWN', `no connection named '${connection}'`);
}

function connectError(err: unknown, connection: string): WardenError {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? 'connection failed';
  if (e.code === '53300') return new WardenError('WARDEN_TOO_MANY_CONNECTIONS', message, { detail: { connection } });
  if (e.code === '28000' || e.code === '42501')
    return new WardenError('WARDEN_ACCESS_DENIED', message, { detail: { connection } });
  return new WardenError('WARDEN_TARGET_UNAVAILABLE', message, { detail: { connection } });
}
