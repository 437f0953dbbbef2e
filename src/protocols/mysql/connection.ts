// `connections.<name>` with `type: mysql` (the adapter comes later; the config is accepted now).
import { z } from 'zod';
import { commonConnectionFields, targetTls } from '../connection-common.js';

export const mysqlConnectionSchema = z.strictObject({
  type: z.literal('mysql'),
  ...commonConnectionFields,
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  tls: targetTls.optional(),
  caCert: z.string().optional(),
});
