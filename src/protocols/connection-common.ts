// Fields every connection has, whatever its protocol. Each engine's own schema extends these
// (see ./registry.ts); the config is a discriminated union on `type`.
import { z } from 'zod';

export const commonConnectionFields = {
  /** Max result rows (or output bytes' worth of events) kept per operation in the recording. */
  recordRows: z.number().int().min(0).default(1000),
  /** Upstream connections the gateway opens to this target at most (sessions beyond get a
   * protocol-native "too many connections" error). Omitted = no limit of the gateway's own. */
  maxUpstream: z.number().int().min(1).optional(),
};

/** TLS to the target: disable | prefer | require | verify-full. */
export const targetTls = z.enum(['disable', 'prefer', 'require', 'verify-full']);

/** A database target reached over TCP with a login (PostgreSQL, MySQL). */
export const databaseTargetFields = {
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  tls: targetTls.optional(),
  caCert: z.string().optional(),
};
