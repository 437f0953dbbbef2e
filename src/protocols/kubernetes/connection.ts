// `connections.<name>` with `type: kubernetes` (DESIGN.md §8; the adapter comes later).
import { z } from 'zod';
import { commonConnectionFields } from '../connection-common.js';

export const kubernetesConnectionSchema = z.strictObject({
  type: z.literal('kubernetes'),
  ...commonConnectionFields,
  url: z.string().url().optional(),
  token: z.string().optional(),
  clientCert: z.string().optional(),
  clientKey: z.string().optional(),
  caCert: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  impersonate: z.boolean().optional(),
});
