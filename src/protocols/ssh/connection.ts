// `connections.<name>` with `type: ssh` (DESIGN.md §8, SSH).
import { z } from 'zod';
import { commonConnectionFields } from '../connection-common.js';

export const sshConnectionSchema = z.strictObject({
  type: z.literal('ssh'),
  ...commonConnectionFields,
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  /** Private key (PEM or OpenSSH, usually `${file:…}`) the gateway logs in with. */
  privateKey: z.string().optional(),
  password: z.string().optional(),
  /** The target's host key fingerprint (`SHA256:…`, as `ssh-keygen -l` prints it): required, a mismatch refuses. */
  hostKey: z
    .string()
    .regex(
      /^SHA256:[A-Za-z0-9+/]{43}=?$/,
      'hostKey must be the SHA256:… fingerprint of the target host key (ssh-keygen -lf)',
    )
    .transform((v) => v.replace(/=$/, '')),
});
