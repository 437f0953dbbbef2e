// The one operation builder: a protocol's input (SQL text, a command line, an HTTP request…)
// becomes the Operation rules see. Sessions, `policy test`, REST and MCP all build through here,
// so a policy test explains exactly what a session would decide.
import { analyzeCommand, analyzePostgres, withExecutedStatements } from '../analysis/index.js';
import type {
  CommandFacts,
  ConnectionRef,
  FileFacts,
  HttpFacts,
  Identity,
  K8sFacts,
  Operation,
  SessionFacts,
} from '../core/types.js';

export type OperationInput =
  /** `prepared`: the session's named statements (name → text), as the target confirmed them. */
  | { kind: 'sql'; text: string; prepared?: ReadonlyMap<string, string> }
  | { kind: 'command'; text: string; command?: CommandFacts }
  | { kind: 'http'; text: string; http: HttpFacts }
  | { kind: 'k8s'; text: string; k8s: K8sFacts }
  | { kind: 'session'; text: string; session: SessionFacts }
  | { kind: 'file'; text: string; file: FileFacts };

/** Who and where an operation happens. */
export interface OperationContext {
  id: string;
  session: string;
  connection: ConnectionRef;
  identity: Identity;
  at: number;
}

const NO_PREPARED: ReadonlyMap<string, string> = new Map();

export function buildOperation(input: OperationInput, ctx: OperationContext): Operation {
  const { id, session, connection, identity, at } = ctx;
  const text = input.text;
  switch (input.kind) {
    case 'sql': {
      // PostgreSQL's analysis; the MySQL adapter brings its own parser with it.
      const a = analyzePostgres(text);
      const executed = withExecutedStatements(text, a, input.prepared ?? NO_PREPARED);
      const op: Operation = {
        id,
        session,
        connection,
        identity,
        text,
        at,
        kind: 'sql',
        sql: executed?.facts ?? a.facts,
        normalized: a.normalized,
      };
      if (executed) op.resolved = executed.resolved;
      return op;
    }
    case 'command':
      return {
        id,
        session,
        connection,
        identity,
        text,
        at,
        kind: 'command',
        command: input.command ?? analyzeCommand(text),
      };
    case 'http':
      return { id, session, connection, identity, text, at, kind: 'http', http: input.http };
    case 'k8s':
      return { id, session, connection, identity, text, at, kind: 'k8s', k8s: input.k8s };
    case 'session':
      return { id, session, connection, identity, text, at, kind: 'session', session_: input.session };
    case 'file':
      return { id, session, connection, identity, text, at, kind: 'file', file: input.file };
  }
}

/** The facts of an operation, as `policy test` shows them. */
export function operationFacts(op: Operation): unknown {
  switch (op.kind) {
    case 'sql':
      return op.sql;
    case 'command':
      return op.command;
    case 'http':
      return op.http;
    case 'k8s':
      return op.k8s;
    case 'session':
      return op.session_;
    case 'file':
      return op.file;
  }
}
