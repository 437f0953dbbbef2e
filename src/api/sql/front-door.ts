// A node-postgres client to the gateway's OWN PostgreSQL front door, authenticated as the caller
// (the bearer token is the password, the database is the connection). REST `exec` and MCP `query`
// use it, so their SQL takes exactly the adapter's path: analysis, decision, review, masking,
// recording and audit happen once, in one place.
import pg from 'pg';
import { WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import { canSee } from '../visibility.js';

// OIDs whose pg parsers give faithful JSON values; everything else stays as the text the gateway
// sent (timestamps keep their zone, numerics their precision, masked text its shape).
const PARSED_OIDS = new Set([16, 20, 21, 23, 26, 114, 700, 701, 3802]); // bool int8 int2 int4 oid json float4 float8 jsonb
const INT8_OID = 20;

const wireTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (v: string) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);
    if (PARSED_OIDS.has(oid)) return pg.types.getTypeParser(oid, format ?? 'text');
    return (v: string) => v;
  },
} as unknown as pg.CustomTypesConfig;

/** Which door the client is: shows as `application_name` on the target. */
export type FrontDoorCaller = 'warden-api' | 'warden-mcp';

/**
 * Open a session through the front door. Refusals at connect time (no access grant, unknown
 * connection, bad token) become WardenErrors; so does an unreachable door or target.
 */
export async function connectFrontDoor(
  gw: Gateway,
  identity: Identity,
  token: string,
  connection: string,
  caller: FrontDoorCaller,
): Promise<pg.Client> {
  const conn = gw.connectionConfig(connection);
  if (!conn) throw unknownConnection(connection);
  if (conn.type !== 'postgres') {
    throw new WardenError(
      'WARDEN_USAGE',
      `connection '${connection}' is a ${conn.type} connection; SQL runs on postgres connections`,
    );
  }
  const port = gw.internalPorts.postgres;
  if (port === undefined)
    throw new WardenError('WARDEN_TARGET_UNAVAILABLE', 'the PostgreSQL front door is not running');
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: caller,
    password: token,
    database: connection,
    // The secret tags the session as api/mcp; the front door strips it before the target sees it.
    application_name: `${caller}:${gw.internalCallerSecret}`,
    ssl: false,
    types: wireTypes,
    connectionTimeoutMillis: 15_000,
  });
  // A socket error surfaces in the pending query; the listener keeps it from crashing the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    const e = connectError(err, connection);
    // The door refused and audited it; a connection the caller could not even request stays invisible.
    if (e.code === 'WARDEN_ACCESS_DENIED' && !canSee(gw, identity, connection)) throw unknownConnection(connection);
    throw e;
  }
  return client;
}

function unknownConnection(connection: string): WardenError {
  return new WardenError('WARDEN_CONNECTION_UNKNOWN', `no connection named '${connection}'`);
}

function connectError(err: unknown, connection: string): WardenError {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? 'connection failed';
  if (e.code === '28000') {
    if (message.startsWith('no connection named')) return new WardenError('WARDEN_CONNECTION_UNKNOWN', message);
    if (/token/i.test(message)) return new WardenError('WARDEN_TOKEN_INVALID', message);
    return new WardenError('WARDEN_ACCESS_DENIED', message, { detail: { connection } });
  }
  if (e.code === '53300') return new WardenError('WARDEN_TOO_MANY_CONNECTIONS', message, { detail: { connection } });
  if (e.code?.startsWith('08'))
    return new WardenError('WARDEN_TARGET_UNAVAILABLE', message, { detail: { connection } });
  return new WardenError(
    'WARDEN_TARGET_UNAVAILABLE',
    `the PostgreSQL front door is unreachable (${e.code ?? 'error'})`,
  );
}
