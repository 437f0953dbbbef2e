// What an engine's test fixture gives the conformance suite: its real target behind a real
// gateway, client sessions that run abstract operations in the engine's own protocol, and
// outcomes normalised so that one suite can judge every engine the same way.

/**
 * The operations the suite asks for. The fixture maps each to its protocol (a SQL statement, a
 * shell command, an HTTP request…); the suite's policy selects them with the fixture's
 * `conditions`.
 */
export type OperationName =
  /** A read no rule matches; returns `expected.allowedRows`. */
  | 'allowedRead'
  /** A read whose result holds the values `secrets()` returns: every one must arrive masked. */
  | 'maskedRead'
  /** A write no rule matches; counted by `effects('allowedWrite')`. */
  | 'allowedWrite'
  /** Matches `conditions.block`; counted by `effects('blockedOp')`. */
  | 'blockedOp'
  /** Matches `conditions.review`; counted by `effects('reviewOp')`. */
  | 'reviewOp'
  /** Matches `conditions.hold`; counted by `effects('holdOp')`. */
  | 'holdOp'
  /**
   * State drift, shape: the gateway learns a harmless result shape, then the statement (or
   * cursor, view…) behind it is redefined behind the gateway's back to return the masked values;
   * the final outcome is that of executing it.
   */
  | 'driftShape'
  /**
   * State drift at the target: the gateway learns a harmless result shape, then another session,
   * straight at the target (not through the gateway), redefines what is behind it (a view, a
   * route…) to return the masked values; the final outcome is that of executing it.
   */
  | 'driftTarget'
  /**
   * State drift, decision: a harmless prepared statement is redefined behind the gateway's back
   * to the blocked operation, then executed; `effects('blockedOp')` must not move.
   */
  | 'driftStatement';

/** The checks, by id (engines name them in `knownGaps`). */
export const CHECKS = [
  'allow',
  'mask',
  'review',
  'selfApproval',
  'hold',
  'block',
  'expiry',
  'expiryPrepared',
  'revocation',
  'revocationPrepared',
  'auditFailure',
  'targetDown',
  'targetLost',
  'malformed',
  'oversizedPreAuth',
  'handshakeTimeout',
  'sessionLimits',
  'driftShape',
  'driftTarget',
  'driftStatement',
] as const;
export type CheckId = (typeof CHECKS)[number];

export type CountedOperation = 'allowedWrite' | 'blockedOp' | 'reviewOp' | 'holdOp';

export interface Refusal {
  kind: 'blocked' | 'review' | 'identity' | 'error';
  /** Protocol-native code: SQLSTATE for PostgreSQL, error number for MySQL, status for HTTP… */
  code: string;
  message: string;
  reviewId?: string;
}

export interface Outcome {
  ok: boolean;
  /** Result rows as the client received them (cells as text, null for SQL NULL or its kin). */
  rows?: (string | null)[][];
  refused?: Refusal;
  /** The gateway (or the target) ended the session with this operation. */
  sessionEnded: boolean;
}

/** A statement (or request) the client prepared, for protocols with a prepare step. */
export interface Prepared {
  readonly op: OperationName;
  /** The prepare step itself, as the client saw it. */
  readonly outcome: Outcome;
  /** The engine's name for it (statement name, statement id…). */
  readonly handle: string;
}

export interface ClientSession {
  run(op: OperationName, opts?: { timeoutMs?: number }): Promise<Outcome>;
  /** Present for protocols with a prepare step (PostgreSQL Parse, MySQL COM_STMT_PREPARE…). */
  prepare?(op: OperationName): Promise<Prepared>;
  execute?(handle: Prepared): Promise<Outcome>;
  /** Bytes no client of the protocol would send, on this authenticated session. */
  malformed(): Promise<Outcome>;
  /** The target drops this session's upstream connection (the target going away under it). */
  loseTarget(): Promise<void>;
  close(): Promise<void>;
}

export type Connected = { session: ClientSession; refused?: undefined } | { session?: undefined; refused: Refusal };

/** What the suite needs from the gateway the fixture started. */
export interface StartedGateway {
  /** Base URL of the REST API (`/api/v1/…`), for audit reads, reviews and the CLI. */
  apiUrl: string;
  /** The recordings folder: one file per session, named by the session id. */
  recordingsDir: string;
}

export interface ConformanceTarget {
  /** Engine name, for test titles. */
  readonly name: string;
  /** The connection (in the gateway config) in front of the real target. */
  readonly connection: string;
  /** Credentials the gateway holds for the targets (never in anything a client receives). */
  readonly targetCredentials: readonly string[];
  /** The protocol has a prepare step: sessions implement prepare() and execute(). */
  readonly prepares: boolean;
  /** A second connection whose target is down (nothing listens at its address). */
  readonly downConnection: string;
  /** CEL conditions selecting the blocked, reviewed and held operations (and nothing else). */
  readonly conditions: { block: string; review: string; hold: string };
  /** Source columns (or fields) to mask, for the suite's `masking[]` entry. */
  readonly maskColumns: readonly string[];
  /** The protocol-native codes the engine answers with. */
  readonly codes: {
    blocked: string;
    review: string;
    identity: string;
    targetDown: string;
    malformed: string;
    preAuthTooLarge: string;
    handshakeTimeout: string;
    tooManySessions: string;
  };
  readonly expected: { allowedRows: (string | null)[][] };
  /**
   * Checks the engine is known to fail, each with the issue that will close the gap: they still
   * run and are reported as TODO, without failing the run. Empty is the goal.
   */
  readonly knownGaps?: Partial<Record<CheckId, string>>;

  /**
   * Start the real target (with what the operations need) and a gateway in front of it whose
   * config holds `connection`, `downConnection`, admins group `admins`, the dev issuer, and the
   * given policy fragment (access, rules, masking, limits) verbatim.
   */
  start(opts: { policy: string }): Promise<StartedGateway>;
  /** Mint a token for this gateway's dev issuer. */
  token(sub: string, groups: string[], ttlMs?: number): Promise<string>;
  /** Open an authenticated session (`connection` by default); a refused login is data. */
  connect(token: string, opts?: { connection?: string }): Promise<Connected>;
  /** The clear values `maskedRead` would return, read straight from the target. */
  secrets(): Promise<string[]>;
  /** How many times a counted operation took effect at the target. */
  effects(op: CountedOperation): Promise<number>;
  /** Announce and start sending a pre-authentication message far larger than the protocol allows. */
  oversizedPreAuth(): Promise<{ refused?: Refusal; closed: boolean; announcedBytes: number; sentBytes: number }>;
  /** Open a socket and send nothing: when does the gateway cut it, and with what? */
  idleHandshake(): Promise<{ refused?: Refusal; closedAfterMs: number }>;
  /** Make every operation's audit write fail until the returned function is called. */
  failAudit(): () => void;
  /** Stop the gateway and the target. */
  stop(): Promise<void>;
}
