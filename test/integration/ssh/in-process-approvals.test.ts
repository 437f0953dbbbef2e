// SSH exec through the API (the SSH engine in-process, against Debian's sshd) with other processes
// acting: a hold released by `warden reviews approve`, `warden exec --wait`, revocation between two
// execs by `warden revoke`. (Split from in-process.test.ts and in-process-cli.test.ts: each file
// stays under the runner's per-file timeout on a busy machine.)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runWarden } from '../../helpers/cli.js';
import { type SshGateway, startSshGateway } from './support.js';

const EMAIL = 'ann.customer@example.com';
const CARD = '4111 1111 1111 1111';

describe('SSH exec through the API: holds, --wait and revocations from other processes', () => {
  let gw: SshGateway;
  let agent: string;
  let dba: string;
  let admin: string;

  before(async () => {
    gw = await startSshGateway();
    agent = await gw.token('inproc-agent', ['agents']);
    dba = await gw.token('inproc-dba', ['dba']);
    admin = await gw.token('inproc-admin', ['admins']);
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
  const cli = (args: string[], token = agent) =>
    runWarden(['exec', '--gateway', gw.running.apiUrl, ...args], { env: { WARDEN_TOKEN: token }, timeoutMs: 150_000 });

  it('hold: the exec waits, an approval from another process releases it, it runs', async () => {
    const held = exec('systemctl --version >/dev/null 2>&1; echo released');
    let id: string | undefined;
    for (let i = 0; i < 200 && !id; i++) {
      const res = await fetch(`${gw.running.apiUrl}/api/v1/reviews?state=pending`, {
        headers: { authorization: `Bearer ${dba}` },
      });
      const { reviews } = (await res.json()) as { reviews: { id: string; rules: string[] }[] };
      id = reviews.find((x) => x.rules.includes('restart-needs-review'))?.id;
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(id, 'a pending review');
    const approved = await runWarden(['reviews', 'approve', id, '--gateway', gw.running.apiUrl], {
      env: { WARDEN_TOKEN: dba },
    });
    assert.equal(approved.code, 0, approved.stderr);
    const r = await held;
    assert.equal(r.body.outcome, 'ok', JSON.stringify(r.body));
    assert.equal(r.body.stdout, 'released\n');
    assert.equal(r.body.reviewId, id);
  });

  it('revocation between two execs: the second is refused, nothing runs', async () => {
    const victim = await gw.token('inproc-revoked', ['agents']);
    assert.equal((await exec('echo one', victim)).body.stdout, 'one\n');
    const rv = await runWarden(['revoke', '--sub', 'inproc-revoked', '--gateway', gw.running.apiUrl], {
      env: { WARDEN_TOKEN: admin },
    });
    assert.equal(rv.code, 0, rv.stderr);
    const r = await exec('touch ~/victim/after-revoke', victim);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.ok(!existsSync(`${gw.target.home}/victim/after-revoke`));
    const c = await cli(['web-1', '--', 'touch', '~/victim/after-revoke'], victim);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /revoked/);
  });

  it('warden exec --wait: a review waits for the approval from another process, then the command runs', async () => {
    const waiting = cli(['--wait', '60s', 'web-1', '--', 'reboot --help >/dev/null 2>&1; echo after-wait']);
    let id: string | undefined;
    for (let i = 0; i < 400 && !id; i++) {
      const res = await fetch(`${gw.running.apiUrl}/api/v1/reviews?state=pending`, {
        headers: { authorization: `Bearer ${dba}` },
      });
      const { reviews } = (await res.json()) as { reviews: { id: string; text: string }[] };
      id = reviews.find((x) => x.text.includes('after-wait'))?.id;
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(id, 'a pending review');
    const approved = await runWarden(['reviews', 'approve', id, '--gateway', gw.running.apiUrl], {
      env: { WARDEN_TOKEN: dba },
    });
    assert.equal(approved.code, 0, approved.stderr);
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'after-wait\n');
    assert.match(r.stderr, /approval required: review \S+; waiting/);
  });
});
