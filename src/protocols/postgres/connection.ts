// `connections.<name>` with `type: postgres`.
import { z } from 'zod';
import { commonConnectionFields, databaseTargetFields } from '../connection-common.js';

export const postgresConnectionSchema = z.strictObject({
  type: z.literal('postgres'),
  ...commonConnectionFields,
  ...databaseTargetFields,
  /** Group → database role; the gateway runs the session as that role and refuses any change. */
  roles: z.record(z.string().min(1), z.string().min(1)).optional(),
});
