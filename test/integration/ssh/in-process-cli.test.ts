// `warden exec web-1 -- CMD` (the real CLI, in another process) on an SSH connection, served through
// the API by the SSH engine in-process against Debian's sshd: the command's output on stdout and
// stderr, its exit status as the CLI's (126 when refused).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { type SshGateway, startSshGateway } from './support.js';

const EMAIL = 'ann.customer@example.com';
const CARD = '4111 1111 1111 1111';

describe('warden exec on an SSH connection', () => {
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

  const cli = (args: string[], token = agent) =>
    runWarden(['exec', '--gateway', gw.running.apiUrl, ...args], { env: { WARDEN_TOKEN: token }, timeoutMs: 150_000 });

  it('warden exec web-1 -- CMD: output on stdout/stderr, the exit status of the command', async () => {
    const ok = await cli(['web-1', '--', 'echo', 'hi;', 'echo', 'err', '>&2'], agent);
    const exit7 = await cli(['web-1', '--', 'exit 7']);
    const masked = await cli(['web-1', '--', 'cat ~/customers.csv']);
    const blocked = await cli(['web-1', '--', "bash -c 'rm -rf ~/victim'"]);
    const review = await cli(['web-1', '--', 'reboot']);
    const json = await cli(['--json', 'web-1', '--', 'echo j']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'hi\n');
    assert.equal(ok.stderr, 'err\n');
    assert.equal(exit7.code, 7);
    assert.equal(masked.code, 0);
    assert.ok(
      !masked.stdout.includes(EMAIL) && !masked.stdout.includes(CARD) && masked.stdout.length > 0,
      masked.stdout,
    );
    assert.equal(blocked.code, 126);
    assert.equal(blocked.stdout, '');
    assert.match(blocked.stderr, /blocked by rule no-rm/);
    assert.equal(review.code, 126);
    assert.match(review.stderr, /warden reviews approve \S+/);
    assert.equal(json.code, 0);
    assert.equal(JSON.parse(json.stdout).stdout, 'j\n');
    assert.ok(existsSync(`${gw.target.home}/victim/keep`));
  });
});
