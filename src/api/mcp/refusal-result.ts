// The MCP answer to an operation the gateway refused, shared by the tools that run operations
// through an engine in-process (http_request, run_command): a block is an `isError` result naming
// the rule; a review is a normal result with the review id and what to do next. Errors thrown by
// a tool become a tool error (a WardenError's message, else a generic text; logged).
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { WardenError } from '../../core/errors.js';
import type { Gateway } from '../../gateway/index.js';

interface RefusableOutcome {
  outcome: string;
  message?: string | undefined;
  reviewId?: string | undefined;
}

/** The result for a blocked or reviewed operation, or undefined when it ran. `again`: "send exactly the same request". */
export function refusalResult(o: RefusableOutcome, again: string): CallToolResult | undefined {
  const structuredContent = { ...o } as Record<string, unknown>;
  if (o.outcome === 'blocked')
    return { isError: true, content: [{ type: 'text', text: o.message ?? 'blocked' }], structuredContent };
  if (o.outcome === 'review') {
    const text = `${o.message ?? `approval required: review ${o.reviewId}`}\nA human approver runs: warden reviews approve ${o.reviewId}. Then ${again}.`;
    return { content: [{ type: 'text', text }], structuredContent };
  }
  return undefined;
}

export function toolFailure(gw: Gateway, tool: string, err: unknown): CallToolResult {
  if (err instanceof WardenError) return { isError: true, content: [{ type: 'text', text: err.message }] };
  gw.logger.error({ err }, `mcp ${tool} failed`);
  return { isError: true, content: [{ type: 'text', text: 'the gateway failed to run this tool' }] };
}
