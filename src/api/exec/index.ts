// REST `exec` (and `warden exec`) by connection type: each runner serves the operation through
// its engine in-process, as the caller, and reports the Verdict the session enforced. Adding a
// protocol is one runner file here and one line below.
import { WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import { connectFrontDoor } from '../sql/front-door.js';
import { runSql, type SqlOutcome } from '../sql/outcome.js';
import { httpExec } from './http.js';
import { sshExec } from './ssh.js';

export interface ExecRequest {
  connection: string;
  input: string;
  maxRows: number;
}

/**
 * The outcome shape every runner returns (ExecResult in the API schemas): outcome, effect,
 * rules, operation, reviewId, message… plus the protocol's own result fields.
 */
export type ExecOutcome = Omit<SqlOutcome, 'results'> & { results?: unknown };

export type ExecRunner = (gw: Gateway, identity: Identity, req: ExecRequest) => Promise<ExecOutcome>;

async function postgresExec(gw: Gateway, identity: Identity, req: ExecRequest): Promise<ExecOutcome> {
  const door = await connectFrontDoor(gw, identity, req.connection, 'api');
  try {
    return await runSql(door, req.input, { maxRows: req.maxRows });
  } finally {
    await door.end();
  }
}

const RUNNERS: Record<string, ExecRunner> = {
  postgres: postgresExec,
  http: httpExec,
  ssh: sshExec,
};

export function execRunner(gw: Gateway, connection: string): ExecRunner {
  const type = gw.connectionConfig(connection)?.type;
  // Unknown and not-allowed connections look the same here; the runner's session open decides.
  if (type === undefined) return postgresExec;
  const run = RUNNERS[type];
  if (!run) throw new WardenError('WARDEN_USAGE', `exec does not run operations on ${type} connections yet`);
  return run;
}
