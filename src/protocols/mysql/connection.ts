// `connections.<name>` with `type: mysql` (the adapter comes later; the config is accepted now).
import { z } from 'zod';
import { commonConnectionFields, databaseTargetFields } from '../connection-common.js';

export const mysqlConnectionSchema = z.strictObject({
  type: z.literal('mysql'),
  ...commonConnectionFields,
  ...databaseTargetFields,
});
