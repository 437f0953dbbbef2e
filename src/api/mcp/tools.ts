// The MCP tools. Each call is one Operation through the same pipeline as psql: SQL runs in the
// PostgreSQL engine, in-process, in a session for the identity of the call's own token (decided,
// masked, recorded, audited there); the result reports the Verdict the session enforced. A block is an `isError` result
// naming the rule; a review is a normal result with the review id and what to do next.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { approvalsOf } from '../../approvals/index.js';
import { parseDuration } from '../../core/duration.js';
import { WardenError } from '../../core/errors.js';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import type { Review } from '../../store/index.js';
import type { FrontDoorClient } from '../sql/front-door.js';
import { runSql, type SqlOutcome } from '../sql/outcome.js';
import { visibleConnections } from '../visibility.js';
import { registerHttpTools } from './http-tools.js';
import type { McpSession } from './sessions.js';
import { registerSshTools } from './ssh-tools.js';

/** Longest review_status wait: below common proxy idle timeouts. */
const MAX_WAIT_S = 60;
const DEFAULT_MAX_ROWS = 200;

export interface ToolContext {
  gw: Gateway;
  version: string;
  /** The MCP session a request belongs to (by mcp-session-id). */
  session(id: string | undefined): McpSession | undefined;
}

interface CallerInfo {
  /** This call's identity, verified from this call's token. */
  identity: Identity;
  session: McpSession;
  /** Run SQL tooling on a front-door client authenticated with this call's token. */
  withClient<T>(connection: string, fn: (client: FrontDoorClient) => Promise<T>): Promise<T>;
}

type Extra = {
  sessionId?: string;
  authInfo?: { token?: string; extra?: Record<string, unknown> };
  signal: AbortSignal;
};

export function buildMcpServer(ctx: ToolContext): McpServer {
  const { gw } = ctx;
  const server = new McpServer(
    { name: 'warden', version: ctx.version },
    {
      instructions:
        'Warden is an access gateway. Every query is checked against policy, sensitive values are masked, and everything is ' +
        'recorded. A refused query names the rule; a query that needs approval returns a review id: a human approver runs ' +
        '`warden reviews approve <id>`, then you call query again with exactly the same SQL (review_status can wait for it).',
    },
  );

  // The route verified this request's token and that it is the session's principal; nothing of
  // an earlier call's identity is used (fail closed when the request carries none).
  const caller = (extra: Extra): CallerInfo => {
    const session = ctx.session(extra.sessionId);
    if (!session) throw new WardenError('WARDEN_TOKEN_INVALID', 'no MCP session');
    const identity = extra.authInfo?.extra?.identity as Identity | undefined;
    const token = extra.authInfo?.token;
    if (!identity || !token || !session.belongsTo(identity))
      throw new WardenError('WARDEN_TOKEN_INVALID', 'this call carries no verified token of the session principal');
    return {
      identity,
      session,
      withClient: (connection, fn) => session.withClient(connection, identity, token, fn),
    };
  };

  server.registerTool(
    'list_connections',
    {
      title: 'List connections',
      description:
        'The connections (databases and other targets) you may use. access=granted: usable now; ' +
        'access=jit-requestable: call request_access first.',
      inputSchema: {},
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (_args, extra) =>
      guarded(gw, async () => {
        const { identity } = caller(extra);
        const connections = visibleConnections(gw, identity);
        const text = connections.length
          ? connections.map((c) => `${c.name} (${c.type}, ${c.access})`).join('\n')
          : 'No connections are available to you.';
        return { content: [{ type: 'text', text }], structuredContent: { connections } };
      }),
  );

  server.registerTool(
    'describe_connection',
    {
      title: 'Describe a database',
      description:
        'Tables and columns of a SQL connection (schema, table, column, type). Columns the policy masks for you are marked ' +
        'masked: their values come back redacted. Optionally filter to one table.',
      inputSchema: {
        connection: z.string().min(1).describe('connection name, from list_connections'),
        table: z.string().min(1).optional().describe('only this table (name or schema.name)'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ connection, table }, extra) =>
      guarded(gw, async () => {
        const { identity, withClient } = caller(extra);
        const outcome = await withClient(connection, (client) => runSql(client, COLUMNS_SQL, { maxRows: 100_000 }));
        if (outcome.outcome !== 'ok') return refusalResult(outcome);
        const rows = (outcome.results?.[0]?.rows ?? []) as string[][];
        const plan = gw.policy.maskPlan(identity, connection);
        const masked = new Set(plan?.columns ?? []);
        const tables = new Map<
          string,
          {
            schema: string;
            name: string;
            columns: { name: string; type: string; nullable: boolean; masked: boolean }[];
          }
        >();
        for (const [schema, name, column, type, nullable] of rows) {
          if (
            table &&
            table.toLowerCase() !== name?.toLowerCase() &&
            table.toLowerCase() !== `${schema}.${name}`.toLowerCase()
          )
            continue;
          const key = `${schema}.${name}`;
          let t = tables.get(key);
          if (!t) {
            t = { schema: schema as string, name: name as string, columns: [] };
            tables.set(key, t);
          }
          const col = (column as string).toLowerCase();
          const isMasked =
            masked.has(col) || masked.has(`${name}.${col}`.toLowerCase()) || masked.has(`${key}.${col}`.toLowerCase());
          t.columns.push({
            name: column as string,
            type: type as string,
            nullable: nullable === 'YES',
            masked: isMasked,
          });
        }
        if (table && tables.size === 0) return errorResult(`no table '${table}' on ${connection}`);
        const detectors = plan?.detect ?? [];
        const lines = [...tables.values()].map(
          (t) =>
            `${t.schema}.${t.name}\n${t.columns.map((c) => `  ${c.name} ${c.type}${c.nullable ? '' : ' not null'}${c.masked ? '  [masked]' : ''}`).join('\n')}`,
        );
        if (detectors.length)
          lines.push(`Values in any text column that look like ${detectors.join(', ')} are masked too.`);
        return {
          content: [{ type: 'text', text: lines.join('\n') || 'No tables.' }],
          structuredContent: { connection, tables: [...tables.values()], contentDetectors: detectors },
        };
      }),
  );

  server.registerTool(
    'query',
    {
      title: 'Run SQL',
      description:
        'Run SQL on a connection (several statements separated by ; are allowed), as you, through the gateway. ' +
        'Results come back with sensitive values masked. If a rule blocks it, the result is an error naming the rule. ' +
        'If it needs approval, the result gives a review id: once an approver approves it, call query again with the same SQL.',
      inputSchema: {
        connection: z.string().min(1).describe('connection name, from list_connections'),
        sql: z.string().min(1).max(1_000_000).describe('the SQL to run'),
        maxRows: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .optional()
          .describe(`rows returned per statement (default ${DEFAULT_MAX_ROWS})`),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
    },
    async ({ connection, sql, maxRows }, extra) =>
      guarded(gw, async () => {
        const { withClient } = caller(extra);
        const outcome = await withClient(connection, (client) =>
          runSql(client, sql, { maxRows: maxRows ?? DEFAULT_MAX_ROWS }),
        );
        if (outcome.outcome === 'ok') {
          return {
            content: [{ type: 'text', text: JSON.stringify(outcome.results) }],
            structuredContent: { ...outcome },
          };
        }
        return refusalResult(outcome);
      }),
  );

  server.registerTool(
    'request_access',
    {
      title: 'Request just-in-time access',
      description:
        'Ask for time-bound access to a connection marked jit-requestable. An approver must approve it ' +
        '(`warden access approve <id>`); then the connection can be used until the grant ends.',
      inputSchema: {
        connection: z.string().min(1),
        duration: z
          .string()
          .regex(/^\d+(m|h)$/)
          .describe('how long, e.g. 30m or 2h'),
        reason: z.string().min(1).max(1000).describe('why you need it (shown to the approver)'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async ({ connection, duration, reason }, extra) =>
      guarded(gw, async () => {
        const { identity } = caller(extra);
        const request = await approvalsOf(gw.approvals).requestAccess(
          identity,
          connection,
          parseDuration(duration),
          reason,
        );
        const text =
          `access request ${request.id} for ${connection} is ${request.state}. ` +
          `An approver (${request.approversRequired.groups.join(', ') || 'admins'}) runs: warden access approve ${request.id}`;
        return { content: [{ type: 'text', text }], structuredContent: { request } };
      }),
  );

  server.registerTool(
    'review_status',
    {
      title: 'Review status',
      description: `The state of a review (pending, approved, denied, expired, executed). waitSeconds (at most ${MAX_WAIT_S}) waits for a decision while it is pending.`,
      inputSchema: {
        reviewId: z.string().min(1).max(200),
        waitSeconds: z.number().int().min(0).max(MAX_WAIT_S).optional(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ reviewId, waitSeconds }, extra) =>
      guarded(gw, async () => {
        const { identity } = caller(extra);
        const approvals = approvalsOf(gw.approvals);
        let review = await approvals.getReview(identity, reviewId);
        if (review.state === 'pending' && waitSeconds) {
          await approvals.waitForDecision(review.id, waitSeconds * 1000, extra.signal);
          review = await approvals.getReview(identity, reviewId);
        }
        return { content: [{ type: 'text', text: reviewText(review) }], structuredContent: { review } };
      }),
  );

  registerHttpTools(server, gw, (extra: Extra) => caller(extra).identity);
  registerSshTools(server, gw, (extra: Extra) => caller(extra).identity);
  return server;
}

const COLUMNS_SQL = `SELECT table_schema, table_name, column_name, data_type, is_nullable
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
ORDER BY table_schema, table_name, ordinal_position`;

function refusalResult(o: SqlOutcome): CallToolResult {
  if (o.outcome === 'review') {
    const who = o.approvers ? `${o.approvers.count} approval(s) from ${o.approvers.groups.join(', ')}` : 'an approval';
    const text =
      `${o.message ?? `approval required: review ${o.reviewId}`}\n` +
      `Next: this needs ${who}. An approver runs \`warden reviews approve ${o.reviewId}\`; ` +
      `then call query again with exactly the same SQL. Use review_status (waitSeconds) to wait for the decision.`;
    return { content: [{ type: 'text', text }], structuredContent: { ...o } };
  }
  const text =
    o.outcome === 'blocked'
      ? (o.message ?? 'blocked by policy')
      : `the database returned an error: ${o.message ?? o.sqlstate}`;
  return { isError: true, content: [{ type: 'text', text }], structuredContent: { ...o } };
}

function reviewText(r: Review): string {
  const head = `review ${r.id}: ${r.state}`;
  switch (r.state) {
    case 'pending':
      return `${head} (${r.approvals.length}/${r.approversRequired.count} approvals from ${r.approversRequired.groups.join(', ')}). An approver runs: warden reviews approve ${r.id}`;
    case 'approved':
      return `${head}. Call query again with exactly the same SQL to run it.`;
    case 'denied':
      return `${head}. Do not retry this operation.`;
    default:
      return `${head}.`;
  }
}

function errorResult(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

/** WardenErrors (no access, unknown connection, …) become tool errors; others are logged and reported generically. */
async function guarded(gw: Gateway, fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WardenError) return errorResult(err.message);
    gw.logger.error({ err }, 'mcp tool failed');
    return errorResult('the gateway failed to run this tool');
  }
}
