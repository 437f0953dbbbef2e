// MCP `run_command` with the SDK's own client against Debian's sshd through the gateway: served
// by the SSH engine in-process (the one exec path), so an agent gets the same decisions, masking
// and recording as `ssh`: allowed (exit status and masked output), blocked (isError with the
// rule's message), review (the id; approved from another process → the same command runs).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { type SshGateway, startSshGateway } from '../ssh/support.js';
import { type McpTestClient, mcpClient, text } from './support.js';

const EMAIL = 'mcp.customer@example.com';

describe('MCP run_command on an SSH connection (SDK client → Warden → sshd)', () => {
  let gw: SshGateway;
  let mcp: McpTestClient;
  let dba: string;

  before(async () => {
    gw = await startSshGateway();
    dba = await gw.token('mcp-dba', ['dba']);
    gw.target.direct(`mkdir -p ~/victim && touch ~/victim/keep && echo '${EMAIL}' > ~/people.txt`);
    mcp = await mcpClient(gw.running.apiUrl, await gw.token('mcp-agent', ['agents']));
  });
  after(async () => {
    await mcp?.close();
    await gw?.stop();
  });

  it('lists the tool with its input schema', async () => {
    const { tools } = await mcp.client.listTools();
    const tool = tools.find((t) => t.name === 'run_command');
    assert.ok(tool, 'run_command is offered');
    assert.deepEqual(Object.keys(tool.inputSchema.properties ?? {}).sort(), ['command', 'connection']);
  });

  it('allowed: exit status and output; a failing command is isError with its output', async () => {
    const ok = await mcp.call('run_command', { connection: 'web-1', command: 'echo hello | tr a-z A-Z' });
    assert.ok(!ok.isError, text(ok));
    assert.match(text(ok), /^exit status 0/);
    assert.match(text(ok), /stdout:\nHELLO/);
    assert.equal(ok.structuredContent?.exitStatus, 0);
    assert.equal(ok.structuredContent?.stdout, 'HELLO\n');
    const bad = await mcp.call('run_command', { connection: 'web-1', command: 'echo nope >&2; exit 2' });
    assert.equal(bad.isError, true);
    assert.match(text(bad), /exit status 2[\s\S]*stderr:\nnope/);
  });

  it('output secrets come back masked', async () => {
    const r = await mcp.call('run_command', { connection: 'web-1', command: 'cat ~/people.txt' });
    assert.ok(!r.isError, text(r));
    assert.match(text(r), /\(output masked\)/);
    assert.ok(!text(r).includes(EMAIL), text(r));
    assert.ok(!JSON.stringify(r.structuredContent).includes(EMAIL));
  });

  it('blocked on the parsed programs: isError with the rule message, nothing ran', async () => {
    for (const command of ['$(printf rm) -rf ~/victim', 'env FOO=1 bash -c "rm -rf ~/victim"']) {
      const r = await mcp.call('run_command', { connection: 'web-1', command });
      assert.equal(r.isError, true, text(r));
      assert.match(text(r), /blocked by rule no-rm: deleting files is not allowed/);
      assert.equal(r.structuredContent?.exitStatus, 126);
    }
    assert.ok(existsSync(`${gw.target.home}/victim/keep`));
  });

  it('review: the id, approved from another process, then the same command runs once', async () => {
    const command = 'reboot --help >/dev/null 2>&1; echo approved-run';
    const first = await mcp.call('run_command', { connection: 'web-1', command });
    assert.ok(!first.isError, text(first));
    const id = first.structuredContent?.reviewId as string;
    assert.ok(id, text(first));
    assert.match(text(first), new RegExp(`warden reviews approve ${id}`));
    const approved = await runWarden(['reviews', 'approve', id, '--gateway', gw.running.apiUrl], {
      env: { WARDEN_TOKEN: dba },
    });
    assert.equal(approved.code, 0, approved.stderr);
    const second = await mcp.call('run_command', { connection: 'web-1', command });
    assert.ok(!second.isError, text(second));
    assert.equal(second.structuredContent?.stdout, 'approved-run\n');
    assert.equal(second.structuredContent?.reviewId, id);
    const third = await mcp.call('run_command', { connection: 'web-1', command });
    assert.equal(third.structuredContent?.outcome, 'review', 'the approval was used up');
  });

  it('revocation between two calls: the second is refused, nothing runs', async () => {
    const victim = await mcpClient(gw.running.apiUrl, await gw.token('mcp-revoked', ['agents']));
    try {
      const first = await victim.call('run_command', { connection: 'web-1', command: 'echo one' });
      assert.equal(first.structuredContent?.stdout, 'one\n');
      const rv = await runWarden(['revoke', '--sub', 'mcp-revoked', '--gateway', gw.running.apiUrl], {
        env: { WARDEN_TOKEN: await gw.token('mcp-admin', ['admins']) },
      });
      assert.equal(rv.code, 0, rv.stderr);
      const second = await victim
        .call('run_command', { connection: 'web-1', command: 'touch ~/victim/mcp-revoked' })
        .then(
          (r) => r,
          (err: unknown) => err,
        );
      // The route refuses the call's token (401) before any tool runs; the SDK reports it as an error.
      if (second instanceof Error) assert.match(second.message, /401|revoked/i);
      else assert.equal((second as { isError?: boolean }).isError, true);
      assert.ok(!existsSync(`${gw.target.home}/victim/mcp-revoked`), 'nothing ran after the revocation');
    } finally {
      await victim.close();
    }
  });

  it('a connection that is not SSH, or not visible: isError, nothing ran', async () => {
    const r = await mcp.call('run_command', { connection: 'no-such', command: 'touch ~/victim/x' });
    assert.equal(r.isError, true);
    assert.match(text(r), /no connection named 'no-such'/);
    assert.ok(!existsSync(`${gw.target.home}/victim/x`));
  });
});
