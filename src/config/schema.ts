// warden.yaml schema (DESIGN.md §3). Strict objects: an unknown key is an error with its path,
// so a typo never silently turns a guardrail off.
import { z } from 'zod';
import { type BuiltinConnectionConfig, protocols, registryVersion } from '../protocols/registry.js';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080');

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, "expected a duration such as '90s', '15m', '2h'");

const groupList = z.array(z.string().min(1));
const nameList = z.array(z.string().min(1));

/** An origin only (scheme, host, optional port): the MCP metadata appends its own paths to it. */
const publicUrl = z
  .string()
  .url()
  .transform((v, ctx) => {
    const u = new URL(v);
    const originOnly = (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username && !u.password;
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !originOnly) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected an http(s) origin without path, e.g. https://warden.example.com',
      });
      return z.NEVER;
    }
    return u.origin;
  });

const listenFixed = {
  api: hostPort.default('127.0.0.1:8080'),
  /** The gateway's public base URL: MCP metadata is built from it, and its host is allowed as `Host`. */
  publicUrl: publicUrl.optional(),
};

/** `listen`: the API, the public URL, and one optional `host:port` per protocol front door (from the registry). */
export type ListenConfig = { api: string; publicUrl?: string } & { [frontDoor: string]: string | undefined };

let listenCache: { version: number; schema: z.ZodType<ListenConfig> } | undefined;
export const listenSchema: z.ZodType<ListenConfig, unknown> = z.lazy(() => {
  if (listenCache?.version !== registryVersion()) {
    const doors: Record<string, z.ZodOptional<typeof hostPort>> = {};
    for (const p of protocols()) if (p.listen) doors[p.listen] = hostPort.optional();
    listenCache = {
      version: registryVersion(),
      schema: z.strictObject({ ...listenFixed, ...doors }) as unknown as z.ZodType<ListenConfig>,
    };
  }
  return listenCache.schema;
});

/** `/metrics`: public unless a token is set (then `Authorization: Bearer <token>`). */
export const metricsSchema = z.strictObject({
  token: z.string().min(16, 'a metrics token has at least 16 characters').optional(),
});

export const tlsSchema = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
});

export const issuerSchema = z.strictObject({
  issuer: z.string().url(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  groupsClaim: z.string().min(1).default('groups'),
  /** Allowed JWS algorithms; asymmetric only. */
  algorithms: z
    .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
    .min(1)
    .optional(),
  /** JWKS URL when the issuer has no discovery document. */
  jwksUri: z.string().url().optional(),
  /** Allowed clock skew, seconds. */
  clockSkew: z.number().int().min(0).max(300).default(30),
});

export const identitySchema = z.strictObject({
  dev: z.boolean().default(false),
  /** Dev issuer: default token lifetime. */
  devTokenTtl: duration.default('15m'),
  issuers: z.array(issuerSchema).default([]),
});

/** A connection: a discriminated union on `type`, one member per registered protocol. */
export type ConnectionConfig = BuiltinConnectionConfig;

let connectionCache: { version: number; schema: z.ZodType<ConnectionConfig> } | undefined;
export const connectionSchema: z.ZodType<ConnectionConfig, unknown> = z.lazy(() => {
  if (connectionCache?.version !== registryVersion()) {
    const members = protocols().map((p) => p.connection);
    const schema =
      members.length === 1
        ? members[0]!
        : z.discriminatedUnion('type', members as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]]);
    connectionCache = { version: registryVersion(), schema: schema as unknown as z.ZodType<ConnectionConfig> };
  }
  return connectionCache.schema;
});

export const limitsSchema = z.strictObject({
  /** Open sessions one principal may hold at once (all connections). */
  sessionsPerIdentity: z.number().int().min(1).default(50),
  /** Connections from one source address that have not authenticated yet. */
  unauthenticatedPerSource: z.number().int().min(1).default(64),
  /** All client connections on every front door together (authenticated or not). */
  maxConnections: z.number().int().min(1).default(10_000),
  /** Time a client has to finish the handshake (TLS included) and present its token. */
  handshakeTimeout: duration.default('10s'),
  /** An INSERT … SELECT is bounded by a LIMIT no larger than this (see `allWritesFiltered`). */
  boundedWriteRows: z.number().int().min(1).default(1000),
});

export const approversSchema = z.strictObject({
  groups: groupList.min(1),
  count: z.number().int().min(1).default(1),
});

export const accessSchema = z.strictObject({
  groups: groupList.min(1),
  connections: nameList.min(1),
  jit: z.boolean().default(false),
  maxDuration: duration.optional(),
  approvers: approversSchema.optional(),
});

export const ruleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'rule names use letters, digits, . _ -'),
  when: z.string().min(1),
  action: z.enum(['allow', 'mask', 'review', 'block']),
  message: z.string().optional(),
  groups: groupList.optional(),
  connections: nameList.optional(),
  approvers: approversSchema.optional(),
  hold: duration.optional(),
  /** How many times an approval may be used (review rules). */
  uses: z.number().int().min(1).default(1),
  /** How long an approval stays valid (review rules). */
  approvalTtl: duration.default('1h'),
});

export const detectorSchema = z.enum(['email', 'credit_card', 'us_ssn', 'phone', 'iban', 'secret']);

export const maskingSchema = z.strictObject({
  connections: nameList.min(1),
  columns: z.array(z.string().min(1)).default([]),
  detect: z.array(detectorSchema).default([]),
  groups: groupList.optional(),
  unmaskedFor: groupList.default([]),
});

export const webhookSchema = z.strictObject({
  url: z.string().url(),
  /** `json` (signed with HMAC-SHA256 when `secret` is set) or `slack` (incoming-webhook text). */
  format: z.enum(['json', 'slack']).default('json'),
  secret: z.string().optional(),
  events: z.array(z.string()).optional(),
});

/** The reviewer web console: OIDC code + PKCE sign-in against `issuer`, and its public URL for links. */
export const consoleSchema = z.strictObject({
  issuer: z.string().url().optional(),
  clientId: z.string().min(1).optional(),
  /**
   * The public client `warden login` uses (a native app: loopback redirect, any port, and the
   * device grant where offered); defaults to `clientId`.
   */
  cliClientId: z.string().min(1).optional(),
  /** RFC 8707 resource indicator sent with the authorization request (issuers that need one for a JWT access token). */
  resource: z.string().min(1).optional(),
  url: z.string().url().optional(),
});

/**
 * Audit anchors: a checkpoint (seq, hash, time) of the chain is signed with the gateway's Ed25519
 * key (dataDir) every `every` entries or `interval`, whichever comes first, and stored apart from
 * the log; optionally appended to `file` (outside the store) and POSTed to `webhook`.
 */
export const auditCheckpointSchema = z.strictObject({
  every: z.number().int().min(1).default(1000),
  interval: duration.default('60s'),
  file: z.string().min(1).optional(),
  webhook: z.string().url().optional(),
});

export const auditSchema = z.strictObject({
  checkpoint: auditCheckpointSchema.default({ every: 1000, interval: '60s' }),
});

export const configSchema = z.strictObject({
  listen: listenSchema.default({ api: '127.0.0.1:8080' }),
  metrics: metricsSchema.optional(),
  tls: tlsSchema.optional(),
  store: z
    .string()
    .regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/)/, 'expected sqlite:PATH or postgres://…')
    .default('sqlite:./warden-data/warden.db'),
  recordings: z.string().min(1).default('./warden-data/recordings'),
  /**
   * Where session recordings are written: `files` (one per session in `recordings`) or
   * `database` (chunks in the store, readable by every gateway instance sharing it). Default:
   * `database` with a PostgreSQL store, `files` with SQLite.
   */
  recordingStore: z.enum(['files', 'database']).optional(),
  /** Where the dev issuer's key and generated TLS material live. */
  dataDir: z.string().min(1).default('./warden-data'),
  /** Groups allowed to read the audit log and all sessions through the API. */
  admins: groupList.default(['admins']),
  identity: identitySchema.default({ dev: false, devTokenTtl: '15m', issuers: [] }),
  connections: z
    .record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'connection names use letters, digits, _ -'), connectionSchema)
    .default({}),
  access: z.array(accessSchema).default([]),
  rules: z.array(ruleSchema).default([]),
  masking: z.array(maskingSchema).default([]),
  console: consoleSchema.optional(),
  audit: auditSchema.default({ checkpoint: { every: 1000, interval: '60s' } }),
  notifications: z.strictObject({ webhooks: z.array(webhookSchema).default([]) }).default({ webhooks: [] }),
  limits: limitsSchema.default({
    sessionsPerIdentity: 50,
    unauthenticatedPerSource: 64,
    maxConnections: 10_000,
    handshakeTimeout: '10s',
    boundedWriteRows: 1000,
  }),
});

export type WardenConfig = z.infer<typeof configSchema>;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type AccessConfig = z.infer<typeof accessSchema>;
export type MaskingConfig = z.infer<typeof maskingSchema>;
export type IssuerConfig = z.infer<typeof issuerSchema>;
export type LimitsConfig = z.infer<typeof limitsSchema>;
export type AuditCheckpointConfig = z.infer<typeof auditCheckpointSchema>;
