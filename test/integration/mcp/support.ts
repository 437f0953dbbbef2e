// An MCP client (the SDK's own Client over Streamable HTTP) with a bearer token.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface McpTestClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Call a tool; the result as the SDK returns it. */
  call(name: string, args?: Record<string, unknown>): Promise<ToolResult>;
  close(): Promise<void>;
}

export interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  // biome-ignore lint/suspicious/noExplicitAny: asserted field by field in the tests
  structuredContent?: Record<string, any>;
}

export async function mcpClient(apiUrl: string, token: string): Promise<McpTestClient> {
  const transport = new StreamableHTTPClientTransport(new URL(`${apiUrl}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'warden-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    transport,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as ToolResult,
    async close() {
      // DELETE /mcp ends the MCP session (and its gateway sessions), then the client closes.
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

export function text(r: ToolResult): string {
  return r.content.map((c) => c.text ?? '').join('\n');
}
