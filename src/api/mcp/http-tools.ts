// MCP `http_request`: one HTTP request on an HTTP connection, served by the HTTP engine
// in-process for the identity of this call's token (decided, masked, recorded and audited as
// through the HTTP front door). A block is an `isError` result naming the rule; a review is a
// normal result with the review id and what to do next.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import { httpInProcess, outcomeOf } from '../exec/http.js';
import { refusalResult, toolFailure } from './refusal-result.js';

/** Body characters shown to the model (the structured result holds up to the exec cap). */
const TEXT_BODY = 64 * 1024;

export function registerHttpTools<E>(server: McpServer, gw: Gateway, identityOf: (extra: E) => Identity): void {
  server.registerTool(
    'http_request',
    {
      title: 'HTTP request',
      description:
        'Send one HTTP request to an HTTP connection (from list_connections). The gateway adds the service credentials; ' +
        'sensitive fields in the response come back masked. A refused request names the rule; one that needs approval ' +
        'returns a review id: once a human approves it, send exactly the same request again.',
      inputSchema: {
        connection: z.string().min(1).describe('connection name, from list_connections'),
        method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
        path: z.string().min(1).max(8192).describe('path below the connection, with the query: /customers?limit=10'),
        headers: z.record(z.string(), z.string()).optional().describe('extra request headers (no Authorization)'),
        body: z.string().max(1_000_000).optional().describe('request body; JSON is sent as application/json'),
      },
      annotations: { openWorldHint: true },
    },
    async ({ connection, method, path, headers, body }, extra) => {
      try {
        const identity = identityOf(extra as E);
        const clean: Record<string, string> = {};
        for (const [k, v] of Object.entries(headers ?? {})) {
          const name = k.toLowerCase();
          if (name === 'authorization' || name === 'cookie' || name === 'host' || name === 'content-length') continue;
          clean[name] = v;
        }
        const x = await httpInProcess(
          gw,
          identity,
          connection,
          { method, target: path, headers: clean, ...(body !== undefined ? { body } : {}) },
          'mcp',
        );
        const o = outcomeOf(x);
        const refused = refusalResult(o, 'send exactly the same request again');
        if (refused) return refused;
        const structured = { ...o } as Record<string, unknown>;
        const shown =
          x.body.length > TEXT_BODY
            ? `${x.body.slice(0, TEXT_BODY)}\n[… ${x.body.length - TEXT_BODY} more characters]`
            : x.body;
        const result: CallToolResult = {
          content: [{ type: 'text', text: `HTTP ${x.status}${o.effect === 'mask' ? ' (masked)' : ''}\n${shown}` }],
          structuredContent: structured,
        };
        if (o.outcome === 'error') result.isError = true;
        return result;
      } catch (err) {
        return toolFailure(gw, 'http_request', err);
      }
    },
  );
}
