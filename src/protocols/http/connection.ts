// `connections.<name>` with `type: http` (DESIGN.md §8, HTTP).
import { z } from 'zod';
import { commonConnectionFields, targetTls } from '../connection-common.js';

export const httpConnectionSchema = z.strictObject({
  type: z.literal('http'),
  ...commonConnectionFields,
  /** Upstream base URL. */
  url: z.string().url().optional(),
  /** Headers the gateway adds upstream (credentials; secret references, never logged). */
  headers: z.record(z.string(), z.string()).optional(),
  token: z.string().optional(),
  tls: targetTls.optional(),
  /** The target's CA (PEM text, e.g. a `${file:…}` reference, or a file path). */
  caCert: z.string().optional(),
  /** Forward the client's `Cookie` header (off: cookies never reach the upstream). */
  forwardCookies: z.boolean().optional(),
  /**
   * Relay WebSocket upgrades (off: refused with 403). Decided at the upgrade; messages are not
   * inspected, so identities masked on this connection are refused even when it is on.
   */
  websocket: z.boolean().optional(),
});
