// REST `exec` on an SSH connection: the command runs through the SSH engine in-process (a real
// ssh2 client over an in-memory stream, the gateway's own exec path), against Debian's sshd — so
// it is decided on its parsed programs, masked and recorded exactly as through `ssh`.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SshGateway, startSshGateway } from './support.js';

const EMAIL = 'ann.customer@example.com';
const CARD = '4111 1111 1111 1111';

describe('REST exec on an SSH connection (in-process through the SSH engine → sshd)', () => {
  let gw: SshGateway;
  let agent: string;

  before(async () => {
    gw = await startSshGateway();
    agent = await gw.token('inproc-agent', ['agents']);
    gw.target.direct(
      `mkdir -p ~/victim && touch ~/victim/keep && printf '%s,%s\\n' '${EMAIL}' '${CARD}' > ~/customers.csv`,
    );
  });
  after(() => gw?.stop());

  const exec = async (input: string, token = agent, connection = 'web-1') => {
    const r = await fetch(`${gw.running.apiUrl}/api/v1/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection, input }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  it('runs an allowed command: stdout, stderr, exit status, the verdict', async () => {
    const r = await exec('echo hi; echo oops >&2; exit 3');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.stdout, 'hi\n');
    assert.equal(r.body.stderr, 'oops\n');
    assert.equal(r.body.exitStatus, 3);
    assert.equal(r.body.outcome, 'error');
    assert.equal(r.body.message, 'exit status 3');
    const ok = await exec('uname -s');
    assert.equal(ok.body.outcome, 'ok');
    assert.equal(ok.body.exitStatus, 0);
    assert.equal(ok.body.stdout, 'Linux\n');
    assert.ok(ok.body.operation, 'the operation id');
  });
});
