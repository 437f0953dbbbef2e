// Opening an engine's in-process door for one API or MCP call: the stream to speak the protocol
// over, the Verdicts the session enforced on it (as they are reported), and the core's refusal
// when the session was never opened (no grant, unknown connection, limits).
import type { Duplex } from 'node:stream';
import { WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import type { VerdictReport } from '../../gateway/verdict.js';

export interface InProcessCall {
  stream: Duplex;
  verdicts: VerdictReport[];
  /** What the core refused the session with, if it did (read once the exchange is over). */
  refused(): unknown;
}

/** `door`: the engine's name (http, ssh); `label`: how it is named in the error when it is not running. */
export function openInProcess(
  gw: Gateway,
  door: string,
  label: string,
  identity: Identity,
  connection: string,
  caller: 'api' | 'mcp',
): InProcessCall {
  const serve = gw.inProcessDoors.get(door);
  if (!serve) throw new WardenError('WARDEN_TARGET_UNAVAILABLE', `the ${label} engine is not running`);
  const verdicts: VerdictReport[] = [];
  let refused: unknown;
  const stream = serve({
    identity,
    connection,
    caller,
    onVerdict: (v) => verdicts.push(v),
    onRefused: (err) => (refused = err),
  });
  return { stream, verdicts, refused: () => refused };
}
