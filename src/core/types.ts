// Domain types shared by every concern. Pure types, no runtime code: the core's vocabulary.
// Names follow ../shared/DESIGN.md, because rules (CEL) and users rely on them.

/** A verified caller. Produced only by src/identity after a full token check. */
export interface Identity {
  sub: string;
  issuer: string;
  groups: string[];
  /** All token claims (never the raw token). */
  claims: Record<string, unknown>;
  /** Token expiry, epoch milliseconds. Re-checked on every operation. */
  expiresAt: number;
  /** `jti` when present; used for revocation. */
  tokenId?: string;
}

/** A connection's protocol: the registry's names (src/protocols/registry.ts). */
export type ConnectionType = import('../protocols/registry.js').BuiltinProtocolName;

export interface ConnectionRef {
  name: string;
  type: ConnectionType;
}

export type SqlKind =
  | 'select'
  | 'insert'
  | 'update'
  | 'delete'
  | 'merge'
  | 'copy'
  | 'create'
  | 'alter'
  | 'drop'
  | 'truncate'
  | 'comment'
  | 'grant'
  | 'revoke'
  | 'set'
  | 'reset'
  | 'set_role'
  | 'show'
  | 'transaction'
  | 'explain'
  | 'prepare'
  | 'execute'
  | 'deallocate'
  | 'declare'
  | 'fetch'
  | 'close'
  | 'listen'
  | 'notify'
  | 'do'
  | 'call'
  | 'load'
  | 'vacuum'
  | 'analyze'
  | 'cluster'
  | 'reindex'
  | 'lock'
  | 'refresh'
  | 'alter_system'
  | 'security_label'
  | 'checkpoint'
  | 'other'
  | 'unparsed';

/** `op.sql`: the facts rules use. Field names are the contract (DESIGN.md §1, SQL facts). */
export interface SqlFacts {
  kinds: SqlKind[];
  tables: string[];
  writtenTables: string[];
  functions: string[];
  writes: boolean;
  allWritesFiltered: boolean;
  copyProgram: boolean;
  serverFile: boolean;
  settings: string[];
  multiStatement: boolean;
  parsed: boolean;
  fingerprint: string;
  /** A function runs SQL given as a non-literal string (`ts_stat(x)`, `query_to_xml(x, …)`). */
  dynamicSql: boolean;
  /** Output columns that derive (column lineage) from a column masked for this identity; filled
   * when the policy decides (analysis alone leaves it empty). */
  maskedOutputs: string[];
  /** Source columns read by WHERE, JOIN … ON/USING, HAVING, ORDER BY and tests (`x = …`, LIKE, …). */
  filterColumns: string[];
}

/** `op.command`: an SSH exec or shell line. */
export interface CommandFacts {
  text: string;
  /** The words of the first simple command, quoting resolved. */
  argv: string[];
  /** Every program the line runs, by base name; `*` for one known only at run time (DESIGN.md §8). */
  programs: string[];
  /** False when the shell parser refused the line (then `programs` is `['*']`). */
  parsed: boolean;
}

/** `op.http`. */
export interface HttpFacts {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  json: unknown;
  /** Request body size in bytes (Content-Length, or as read); null when unknown (streamed). */
  bodyBytes?: number | null;
}

/** `op.k8s`. */
export interface K8sFacts {
  verb: string;
  resource: string;
  namespace: string;
  name: string;
  subresource: string;
  command: string[];
}

/** `op.file`: one SFTP request. */
export interface FileFacts {
  action: 'read' | 'write' | 'remove' | 'rename' | 'mkdir' | 'rmdir' | 'list' | 'stat' | 'setstat' | 'symlink';
  path: string;
  /** The new name (rename) or what the link points to (symlink); '' otherwise. */
  target: string;
}

export interface SessionFacts {
  event: 'connect' | 'disconnect' | 'shell' | 'port-forward' | 'sftp';
  detail?: string;
}

interface OperationBase {
  /** Unique per operation (ULID-like, sortable). */
  id: string;
  /** Session id this operation belongs to. */
  session: string;
  connection: ConnectionRef;
  identity: Identity;
  /** The operation as the client sent it (SQL text, command line, `METHOD /path`). */
  text: string;
  /** Epoch milliseconds. */
  at: number;
}

export type Operation =
  | (OperationBase & {
      kind: 'sql';
      sql: SqlFacts;
      /** normalized text (literals removed) */
      normalized: string;
      /** The statements its EXECUTEs run (`name: text` per line); part of what an approval covers. */
      resolved?: string;
    })
  | (OperationBase & { kind: 'command'; command: CommandFacts })
  | (OperationBase & { kind: 'http'; http: HttpFacts })
  | (OperationBase & { kind: 'k8s'; k8s: K8sFacts })
  | (OperationBase & { kind: 'session'; session_: SessionFacts })
  | (OperationBase & { kind: 'file'; file: FileFacts });

export type OperationKind = Operation['kind'];

export type Effect = 'allow' | 'mask' | 'review' | 'block';

/** Stable reason codes, so logs, UIs and tests can explain a decision without parsing text. */
export type ReasonCode =
  | 'access-granted'
  | 'jit-grant'
  | 'no-access-grant'
  | 'rule-matched'
  | 'masking-applies'
  | 'identity-expired'
  | 'identity-revoked'
  | 'policy-error'
  | 'review-approved'
  /** A built-in guard of the adapter's invariants (e.g. a setting the analysis depends on). */
  | 'session-guard';

export interface Reason {
  code: ReasonCode;
  rule?: string;
  /** The effect this reason argues for (a matched rule's action). */
  effect?: Effect;
  message: string;
}

export type DetectorName = 'email' | 'credit_card' | 'us_ssn' | 'phone' | 'iban' | 'secret';

/** What to mask in this operation's response, resolved for this identity and connection. */
export interface MaskPlan {
  /** Source column names (lower-case, bare `email` or qualified `public.customers.email`). */
  columns: string[];
  /** Content detectors applied to every text value. */
  detect: DetectorName[];
}

export interface ReviewRequirement {
  groups: string[];
  count: number;
  /** Milliseconds to hold the operation open waiting for approval; 0 = refuse at once. */
  holdMs: number;
}

export interface Decision {
  effect: Effect;
  /** Names of every rule that matched (all of them, not only the winning one). */
  rules: string[];
  reasons: Reason[];
  masking: MaskPlan | null;
  review: ReviewRequirement | null;
}
