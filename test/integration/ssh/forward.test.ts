// direct-tcpip through the gateway (ssh -W, which OpenSSH runs as a direct-tcpip channel): each
// forward is a `session` `port-forward` operation with detail host:port, decided before the
// target connects; a refused one fails to open, the next one still works; agent forwarding refused.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type SshGateway, ssh, startSshGateway } from './support.js';

describe('ssh port forwarding through the gateway (real ssh -W → Warden → sshd)', () => {
  let gw: SshGateway;
  let agent: string;
  let echo: Server;
  let port: number;

  before(async () => {
    gw = await startSshGateway();
    agent = await gw.token('agent-1', ['agents']);
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    port = (echo.address() as { port: number }).port;
  });
  after(async () => {
    await gw?.stop();
    echo?.close();
  });

  it('an allowed host:port is forwarded both ways', async () => {
    const r = await ssh(gw, agent, '', { extra: ['-W', `127.0.0.1:${port}`], input: 'ping through the target\n' });
    assert.equal(r.stdout, 'ping through the target\n', r.stderr);
  });

  it('a forbidden host:port is refused (the channel does not open), nothing connects', async () => {
    let connected = false;
    echo.once('connection', () => {
      connected = true;
    });
    const r = await ssh(gw, agent, '', { extra: ['-W', `localhost:${port}`], input: 'x\n' });
    assert.equal(r.status, 255);
    assert.match(r.stderr, /stdio forwarding failed|administratively prohibited/);
    assert.equal(connected, false);
    const again = await ssh(gw, agent, 'echo still');
    assert.equal(again.stdout, 'still\n');
  });

  it('agent forwarding is refused, the command still runs without it', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, run by the remote shell
    const r = await ssh(gw, agent, 'echo "${SSH_AUTH_SOCK:-none}"', { extra: ['-A'] });
    assert.equal(r.stdout, 'none\n');
  });
});
