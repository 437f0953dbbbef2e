// MCP `run_command`: one command on an SSH connection, run by the SSH engine in-process for the
// identity of this call's token (decided on its parsed programs, masked, recorded and audited as
// through `ssh`). A block is an `isError` result naming the rule; a review is a normal result with
// the review id and what to do next; a command that ran returns its exit status and output.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Identity } from '../../core/types.js';
import type { Gateway } from '../../gateway/index.js';
import { commandOutcome, runCommandInProcess } from '../exec/ssh.js';
import { refusalResult, toolFailure } from './refusal-result.js';

/** Output characters shown to the model per stream (the structured result holds up to the exec cap). */
const TEXT_OUTPUT = 64 * 1024;

export function registerSshTools<E>(server: McpServer, gw: Gateway, identityOf: (extra: E) => Identity): void {
  server.registerTool(
    'run_command',
    {
      title: 'Run a command',
      description:
        'Run one shell command on an SSH connection (from list_connections); no terminal, no stdin. The gateway logs in ' +
        'to the host; every program the command line runs is checked against policy before it runs, and secrets in the ' +
        'output come back masked. A refused command names the rule; one that needs approval returns a review id: once a ' +
        'human approves it, run exactly the same command again.',
      inputSchema: {
        connection: z.string().min(1).describe('connection name, from list_connections'),
        command: z.string().min(1).max(100_000).describe('the command line, as for `ssh host CMD`: uptime'),
      },
      annotations: { openWorldHint: true, destructiveHint: true },
    },
    async ({ connection, command }, extra) => {
      try {
        const identity = identityOf(extra as E);
        // The client cancelling the call (or going away) stops the command.
        const run = await runCommandInProcess(gw, identity, connection, command, 'mcp', extra.signal);
        const o = commandOutcome(run);
        const refused = refusalResult(o, 'run exactly the same command again');
        if (refused) return refused;
        const structured = { ...o } as Record<string, unknown>;
        const status =
          run.exitStatus !== null
            ? `exit status ${run.exitStatus}`
            : run.truncated
              ? 'stopped: output too long'
              : `ended by signal ${run.signal ?? '?'}`;
        const parts = [`${status}${o.effect === 'mask' ? ' (output masked)' : ''}`];
        if (run.stdout) parts.push(`stdout:\n${shown(run.stdout)}`);
        if (run.stderr) parts.push(`stderr:\n${shown(run.stderr)}`);
        const result: CallToolResult = {
          content: [{ type: 'text', text: parts.join('\n') }],
          structuredContent: structured,
        };
        if (o.outcome === 'error') result.isError = true;
        return result;
      } catch (err) {
        return toolFailure(gw, 'run_command', err);
      }
    },
  );
}

function shown(text: string): string {
  return text.length > TEXT_OUTPUT
    ? `${text.slice(0, TEXT_OUTPUT)}\n[… ${text.length - TEXT_OUTPUT} more characters]`
    : text;
}
