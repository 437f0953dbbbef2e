// `connections.<name>` with `type: postgres`.
import { z } from 'zod';
import { commonConnectionFields, targetTls } from '../connection-common.js';

export const postgresConnectionSchema = z.strictObject({
  type: z.literal('postgres'),
  ...commonConnectionFields,
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  tls: targetTls.optional(),
  caCert: z.string().optional(),
  /** Group → database role; the gateway runs the session as that role and refuses any change. */
  roles: z.record(z.string().min(1), z.string().min(1)).optional(),
});
